/**
 * Inputs one step away from a valid sample, for differential tests of two parsers of the same rules (zod's compiled
 * schemas against its runtime parser: test/stored-compiled-schemas.test.ts, test/command-parse-compiled-equals-runtime
 * .test.ts): in every place of the sample, each junk value put there, the value removed, and an unknown key added to
 * every object.
 */

type Json = Record<string, unknown> | unknown[];

export const clone = <T>(value: T): T => structuredClone(value);

/** Every path to a value inside `value` (objects and arrays included), root excluded. */
const pathsOf = (value: unknown, prefix: (string | number)[] = []): (string | number)[][] => {
  if (typeof value !== 'object' || value === null) return [];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((k) => [[...prefix, k], ...pathsOf((value as Record<string | number, unknown>)[k], [...prefix, k])]);
};

const containerAt = (root: Json, path: (string | number)[]): Record<string | number, unknown> =>
  path.slice(0, -1).reduce<Record<string | number, unknown>>((o, k) => o[k] as Record<string | number, unknown>, root as Record<string | number, unknown>);

/** The sample with one value replaced by each of `junk`, or removed, or one unknown key added, in every place. */
export function* oneValueChanges(sample: Record<string, unknown>, junk: readonly unknown[]): Generator<Record<string, unknown>> {
  for (const path of pathsOf(sample)) {
    const last = path.at(-1)!;
    for (const value of junk) {
      const copy = clone(sample);
      containerAt(copy, path)[last] = value;
      yield copy;
    }
    const removed = clone(sample);
    const container = containerAt(removed, path);
    if (Array.isArray(container)) container.splice(Number(last), 1);
    else delete container[last];
    yield removed;
  }
  for (const path of [[], ...pathsOf(sample)]) {
    const copy = clone(sample);
    const target = path.length === 0 ? copy : (containerAt(copy, [...path, '']) as Record<string | number, unknown>)[path.at(-1)!];
    if (typeof target !== 'object' || target === null || Array.isArray(target)) continue;
    (target as Record<string, unknown>)['unknownKey'] = 'x';
    yield copy;
  }
}
