/**
 * Structured mutations of a legitimate input (a command, a protocol message, an evidence bundle, a stored row): a
 * field dropped, replaced by a hostile value, a special own key added, a bit of a base64url field flipped, a value
 * nudged, a list entry duplicated or moved, a string or list cut, a date or an id replaced. Each mutation picks its
 * target path when applied (`at` modulo the paths it applies to), so it needs no knowledge of the input to be
 * generated and shrinks on its own.
 */
import fc from 'fast-check';
import { tryFromBase64url, toBase64url } from '../../domain/crypto/base64url.ts';
import { HOSTILE_DATES, hostileValue, materialize, PATHISH_IDS, POLLUTION, SPECIAL_KEYS, unicodeString } from './arbitraries.ts';

// --------------------------------------------------------------------------------------------- tree plumbing

export type Path = readonly (string | number)[];

/** Mutations address paths at most this long. */
const MAX_PATH = 12;

const isContainer = (v: unknown): v is Record<string | number, unknown> =>
  typeof v === 'object' && v !== null && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * A deep copy of a JSON-like tree that keeps own `__proto__` keys own (a plain assignment would set the prototype).
 * Below `MAX_PATH` levels subtrees are shared, not copied: mutations never reach that deep, and a 100,000-level
 * recipe must not overflow the test's own stack.
 */
export const cloneTree = <T>(value: T, depth = 0): T => {
  if (!isContainer(value) || depth > MAX_PATH + 1) return value;
  if (Array.isArray(value)) return value.map((v) => cloneTree(v, depth + 1)) as T;
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const key of Object.keys(value)) {
    const child = cloneTree((value as Record<string, unknown>)[key], depth + 1);
    Object.defineProperty(copy, key, { value: child, enumerable: true, writable: true, configurable: true });
  }
  return copy as T;
};

/** Every path of the tree, the root first; containers and leaves alike. Bounded: it never walks a huge input. */
export const pathsOf = (value: unknown, limit = 4_000): Path[] => {
  const out: Path[] = [];
  const stack: { v: unknown; p: Path }[] = [{ v: value, p: [] }];
  while (stack.length > 0 && out.length < limit) {
    const { v, p } = stack.pop()!;
    out.push(p);
    if (!isContainer(v) || p.length >= MAX_PATH) continue;
    const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) stack.push({ v: v[keys[i]!], p: [...p, keys[i]!] });
  }
  return out;
};

export const getAt = (root: unknown, path: Path): unknown => path.reduce<unknown>((v, k) => (isContainer(v) ? v[k] : undefined), root);

/** Sets (as an own property) or, with `remove`, deletes the value at `path`; the root is replaced through the return. */
const setAt = (root: unknown, path: Path, value: unknown, remove = false): unknown => {
  if (path.length === 0) return remove ? undefined : value;
  const parent = getAt(root, path.slice(0, -1));
  if (!isContainer(parent)) return root;
  const key = path[path.length - 1]!;
  if (remove) {
    if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
    else delete parent[key];
  } else {
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return root;
};

// ------------------------------------------------------------------------------------------------- mutations

/** One structured change to a tree; `at` picks its path among those the operation applies to. */
export type Mutation =
  | { readonly op: 'drop'; readonly at: number }
  | { readonly op: 'replace'; readonly at: number; readonly value: unknown }
  | { readonly op: 'addKey'; readonly at: number; readonly key: string; readonly value: unknown }
  | { readonly op: 'flipBit'; readonly at: number; readonly byte: number; readonly bit: number }
  | { readonly op: 'tweak'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number }
  | { readonly op: 'reorder'; readonly at: number; readonly with: number }
  | { readonly op: 'truncate'; readonly at: number; readonly keep: number }
  | { readonly op: 'date'; readonly at: number; readonly value: unknown }
  | { readonly op: 'id'; readonly at: number; readonly value: unknown };

const at = fc.nat({ max: 1_000_000 });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('drop' as const), at }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), at, value: hostileValue }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('addKey' as const),
      at,
      key: fc.oneof(fc.constantFrom(...SPECIAL_KEYS), fc.string({ maxLength: 8 })),
      value: fc.oneof(hostileValue, fc.constantFrom(...POLLUTION)),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('flipBit' as const), at, byte: fc.nat(), bit: fc.nat({ max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('tweak' as const), at }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), at }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reorder' as const), at, with: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at, keep: fc.nat({ max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('date' as const), at, value: fc.constantFrom(...HOSTILE_DATES) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('id' as const), at, value: fc.oneof(fc.constantFrom(...PATHISH_IDS), unicodeString) }) },
);

const DATE_KEY = /(At|Before|After|^sentAt|^time)$/;
const ID_KEY = /(Id|^id|^pseudonym|^streamId)$/;
const ISO = /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$/;

const pick = <T>(items: readonly T[], index: number): T | undefined => (items.length === 0 ? undefined : items[index % items.length]);

/** The last character changed, a number moved by one, a boolean flipped, an instant moved by a millisecond. */
const tweakValue = (value: unknown): unknown => {
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'string') {
    if (ISO.test(value) && Number.isFinite(Date.parse(value))) return new Date(Date.parse(value) + 1).toISOString();
    if (value.length === 0) return 'A';
    const last = value.charCodeAt(value.length - 1);
    return value.slice(0, -1) + String.fromCharCode(last === 0x41 ? 0x42 : 0x41);
  }
  return value;
};

/** One bit of the bytes a base64url string holds, flipped and re-encoded; other strings get one character changed. */
const flipBit = (value: unknown, byte: number, bit: number): unknown => {
  if (typeof value !== 'string') return tweakValue(value);
  const bytes = value.length > 0 ? tryFromBase64url(value) : undefined;
  if (bytes === undefined || bytes.length === 0) {
    if (value.length === 0) return 'A';
    const i = byte % value.length;
    return value.slice(0, i) + String.fromCharCode(value.charCodeAt(i) ^ (1 << bit)) + value.slice(i + 1);
  }
  bytes[byte % bytes.length] = bytes[byte % bytes.length]! ^ (1 << bit);
  return toBase64url(bytes);
};

/** Applies `m` to a copy of `root` and returns the copy (or the new root). */
export const applyMutation = (root: unknown, m: Mutation): unknown => {
  const copy = cloneTree(root);
  const paths = pathsOf(copy);
  const lastKey = (p: Path) => String(p[p.length - 1] ?? '');
  const leaves = paths.filter((p) => !isContainer(getAt(copy, p)));
  switch (m.op) {
    case 'drop': {
      const p = pick(paths.filter((q) => q.length > 0), m.at);
      return p === undefined ? copy : setAt(copy, p, undefined, true);
    }
    case 'replace': {
      const p = pick(paths, m.at)!;
      return setAt(copy, p, materialize(m.value));
    }
    case 'addKey': {
      const p = pick(paths.filter((q) => { const v = getAt(copy, q); return isContainer(v) && !Array.isArray(v); }), m.at);
      if (p === undefined) return copy;
      const value = materialize(m.value);
      // Own property, as JSON.parse makes it: `obj.__proto__ = v` would change the prototype instead.
      Object.defineProperty(getAt(copy, p) as object, m.key, { value, enumerable: true, writable: true, configurable: true });
      return copy;
    }
    case 'flipBit': {
      const p = pick(leaves.filter((q) => typeof getAt(copy, q) === 'string'), m.at) ?? pick(leaves, m.at);
      return p === undefined ? copy : setAt(copy, p, flipBit(getAt(copy, p), m.byte, m.bit));
    }
    case 'tweak': {
      const p = pick(leaves, m.at);
      return p === undefined ? copy : setAt(copy, p, tweakValue(getAt(copy, p)));
    }
    case 'duplicate': {
      const p = pick(paths.filter((q) => Array.isArray(getAt(copy, q)) && (getAt(copy, q) as unknown[]).length > 0), m.at);
      if (p === undefined) return copy;
      const list = getAt(copy, p) as unknown[];
      const i = m.at % list.length;
      list.splice(i, 0, cloneTree(list[i]));
      return copy;
    }
    case 'reorder': {
      const p = pick(paths.filter((q) => Array.isArray(getAt(copy, q)) && (getAt(copy, q) as unknown[]).length > 1), m.at);
      if (p === undefined) return copy;
      const list = getAt(copy, p) as unknown[];
      const i = m.at % list.length;
      const j = m.with % list.length;
      [list[i], list[j]] = [list[j], list[i]];
      return copy;
    }
    case 'truncate': {
      const p = pick(paths.filter((q) => { const v = getAt(copy, q); return typeof v === 'string' || Array.isArray(v); }), m.at);
      if (p === undefined) return copy;
      const v = getAt(copy, p) as string | unknown[];
      return setAt(copy, p, v.slice(0, Math.min(m.keep, Math.max(0, v.length - 1))));
    }
    case 'date': {
      const p = pick(paths.filter((q) => DATE_KEY.test(lastKey(q))), m.at) ?? pick(leaves, m.at);
      return p === undefined ? copy : setAt(copy, p, m.value);
    }
    case 'id': {
      const p = pick(paths.filter((q) => ID_KEY.test(lastKey(q))), m.at) ?? pick(leaves, m.at);
      return p === undefined ? copy : setAt(copy, p, m.value);
    }
  }
};

export const applyMutations = (root: unknown, ms: readonly Mutation[]): unknown => ms.reduce(applyMutation, root);
