import type { FieldIssue } from '../../domain/errors.ts';

/*
 * A body in valid UTF-8 can still carry text that is no Unicode: the JSON escape "\ud800" parses to a lone UTF-16
 * surrogate. Stored as sent in the event log, it read back from a read model's SQLite TEXT column as U+FFFD, so a
 * timeline showed another correlationId than the one signed and logged, and two ids differing there showed alike
 * (review 92). Refused at the boundary, as the store refuses it in ids (review 23).
 */

const LONE_SURROGATE = /\p{Surrogate}/u;
const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';
/** String.prototype.isWellFormed (ES2024, Node 20), the regex where a runtime lacks it: with `u`, a pair is one code point. */
const isWellFormed = (text: string): boolean =>
  hasIsWellFormed ? (text as unknown as { isWellFormed(): boolean }).isWellFormed() : !LONE_SURROGATE.test(text);

/** Names in a reported path are cut, as in the limits' paths; a lone surrogate is shown as its escape, so the path is itself text. */
const MAX_NAME_IN_PATH = 64;
const shown = (key: string | number): string => {
  if (typeof key === 'number') return String(key);
  if (key === '') return '""';
  const cut = key.length > MAX_NAME_IN_PATH ? `${key.slice(0, MAX_NAME_IN_PATH)}…` : key;
  return cut.replace(/\p{Surrogate}/gu, (unit) => `\\u${unit.charCodeAt(0).toString(16)}`);
};

type Where = { readonly path: (string | number)[]; readonly name: boolean };

/** Recursion as deep as the value's nesting: a body's is bounded by `limits.jsonMaxDepth` (at most 64), judged on its text first. */
const firstIllFormed = (value: unknown): Where | undefined => {
  if (typeof value === 'string') return isWellFormed(value) ? undefined : { path: [], name: false };
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = firstIllFormed(value[i]);
      if (found !== undefined) return { ...found, path: [i, ...found.path] };
    }
    return undefined;
  }
  for (const [name, member] of Object.entries(value)) {
    if (!isWellFormed(name)) return { path: [name], name: true };
    const found = firstIllFormed(member);
    if (found !== undefined) return { ...found, path: [name, ...found.path] };
  }
  return undefined;
};

/**
 * The first string value or member name of the parsed JSON `value` that is not well-formed Unicode (a lone surrogate,
 * from a `\uD800`–`\uDFFF` escape not in a pair), rule `well_formed_unicode` with the path to the value or member
 * (empty for a top-level string); undefined when all are. A pair of escapes naming one astral character is well-formed.
 */
export const illFormedUnicodeIssue = (value: unknown): FieldIssue | undefined => {
  const found = firstIllFormed(value);
  if (found === undefined) return undefined;
  return {
    path: found.path.map(shown).join('.'),
    rule: 'well_formed_unicode',
    message: `${found.name ? 'the member name' : 'the text'} holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape not in a pair), which is no character: it would not read back as sent`,
  };
};
