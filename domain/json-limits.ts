import { validationError, type FieldIssue } from './errors.ts';

/**
 * Limits on the shape of JSON that crosses a boundary (commands, stored events on read, protocol messages, evidence
 * bundles, configuration, later HTTP bodies). zod's recursive schemas and JSON.stringify recurse once per level, so
 * input nested deeply enough overflows the stack before any schema can refuse it; these limits are checked first,
 * without recursion, so that such input is a `validation` error naming the limit (SER-001: no cheap way to crash).
 * Sizes of single strings are each field's own maximum (the schemas); files are bounded in bytes before parsing.
 */
export interface JsonLimits {
  /** Nesting of objects and arrays; the top-level value is depth 1. */
  readonly maxDepth: number;
  /** Values of every kind (objects, arrays, strings, numbers, ...) counted together. */
  readonly maxValues: number;
}

/**
 * Evidence bundles and configuration: a bundle holds a whole stream's history (thousands of events of a few dozen
 * values each), nested at most 9 levels; far below any stack limit.
 */
export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxValues: 2_000_000 };

/** One command, stored event or protocol message: objects nest at most 4 levels, the largest holds about 100 values. */
export const MESSAGE_JSON_LIMITS: JsonLimits = { maxDepth: 16, maxValues: 4_096 };

/** A store connection string (config, CLI flag): hosts, options and credentials fit many times over. */
export const MAX_CONNECTION_STRING_CHARS = 4_096;

interface Pending {
  readonly value: unknown;
  readonly depth: number;
  readonly key: string | number | undefined;
  readonly parent: Pending | undefined;
}

/** Keys in a reported path are cut: the path names where the input broke a limit, it does not echo the input. */
const MAX_KEY_IN_PATH = 64;

const pathOf = (entry: Pending): string => {
  const segments: string[] = [];
  for (let e: Pending | undefined = entry; e?.key !== undefined; e = e.parent) {
    const key = String(e.key);
    segments.push(key.length > MAX_KEY_IN_PATH ? `${key.slice(0, MAX_KEY_IN_PATH)}…` : key);
  }
  return segments.reverse().join('.');
};

// Object.prototype.hasOwnProperty.call inside a for-in is what V8 optimises to an enum-cache check.
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The values budget left once `container` and everything under it are counted, or -1 when they break a limit.
 * Recursive, but never deeper than `maxDepth` + 1 frames: a container nested deeper is refused before its children
 * are looked at. It allocates nothing, so the common case (input that keeps the limits: every stored event at
 * replay) costs one walk; the path of a failure is found by the slower walk below.
 */
const budgetAfter = (container: object, depth: number, budget: number, maxDepth: number): number => {
  if (depth > maxDepth) return -1;
  if (Array.isArray(container)) {
    budget -= container.length;
    if (budget < 0) return -1;
    for (let i = 0; i < container.length; i++) {
      const child: unknown = container[i];
      if (typeof child === 'object' && child !== null && (budget = budgetAfter(child, depth + 1, budget, maxDepth)) < 0) return -1;
    }
    return budget;
  }
  // The own enumerable keys (what Object.keys lists) by a for-in over the enum cache: no key list per object, which
  // was a quarter of this walk's time and 280 bytes of garbage per stored event at replay. Each key is counted
  // before its value is walked; the verdict (budget left or -1) does not depend on the order.
  for (const key in container) {
    if (!hasOwn.call(container, key)) continue;
    if (--budget < 0) return -1;
    const child: unknown = (container as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null && (budget = budgetAfter(child, depth + 1, budget, maxDepth)) < 0) return -1;
  }
  return budget;
};

/**
 * The first way `value` breaks `limits`, or undefined when it keeps them. It cannot overflow the stack: the quick
 * walk is bounded by the depth limit, and the walk that names the failing path is iterative.
 */
export const jsonLimitIssue = (value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): FieldIssue | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  if (budgetAfter(value, 1, limits.maxValues - 1, limits.maxDepth) >= 0) return undefined;
  return firstLimitIssue(value, limits);
};

/** The first way `value` breaks `limits` in a depth-first walk, with the path to it. Iterative. */
const firstLimitIssue = (value: unknown, limits: JsonLimits): FieldIssue | undefined => {
  const stack: Pending[] = [{ value, depth: 1, key: undefined, parent: undefined }];
  // A container's children are counted when it is visited, so a huge flat array is refused before any is pushed.
  let values = 1;
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const current = entry.value;
    if (typeof current !== 'object' || current === null) continue; // a primitive at the top level
    if (entry.depth > limits.maxDepth) {
      return { path: pathOf(entry), rule: 'max_depth', message: `nested deeper than ${limits.maxDepth} levels` };
    }
    const array = Array.isArray(current) ? (current as readonly unknown[]) : undefined;
    const keys = array === undefined ? Object.keys(current) : undefined;
    values += array?.length ?? keys!.length;
    if (values > limits.maxValues) {
      return { path: pathOf(entry), rule: 'max_values', message: `more than ${limits.maxValues} JSON values` };
    }
    // Only containers are pushed: leaves are counted above and can break no other limit.
    const depth = entry.depth + 1;
    if (array !== undefined) {
      for (let i = array.length - 1; i >= 0; i--) {
        const child = array[i];
        if (typeof child === 'object' && child !== null) stack.push({ value: child, depth, key: i, parent: entry });
      }
    } else {
      for (const key of keys!) {
        const child = (current as Record<string, unknown>)[key];
        if (typeof child === 'object' && child !== null) stack.push({ value: child, depth, key, parent: entry });
      }
    }
  }
  return undefined;
};

/** Throws a `validation` error naming the limit `value` breaks, for `subject` (what the input is). */
export const assertJsonWithin = (value: unknown, subject: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): void => {
  const issue = jsonLimitIssue(value, limits);
  if (issue !== undefined) throw validationError([issue], subject);
};

/**
 * Nesting a pruned copy keeps (`prunedBeyondSafeNesting`): far past what any stored value needs (MESSAGE_JSON_LIMITS),
 * far below what a structured clone or JSON.stringify can take on any thread's stack.
 */
export const SAFE_NESTING = 256;

const deeperThan = (value: unknown, depth: number): boolean =>
  typeof value === 'object' && value !== null && budgetAfter(value, 1, Number.MAX_SAFE_INTEGER, depth) < 0;

/**
 * JSON.stringify of a parsed JSON value, and the same text, without recursion, for one nested past what this thread's
 * stack holds: a record digest over a row nested 200,000 levels overflowed the stack and ended the auditor's replay
 * (found in review). Only such a value pays for the second writing; every other is JSON.stringify's alone.
 */
export const stringifyJson = (value: unknown): string => {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return stringifyWithoutRecursion(value);
  }
};

/** What JSON.stringify writes for a parsed JSON value (keys in insertion order, strings and numbers as it writes them), iteratively. */
export const stringifyWithoutRecursion = (value: unknown): string => {
  const out: string[] = [];
  // Work items: a value to write, or a literal piece of text (brackets, commas, a key with its colon).
  const stack: ({ readonly text: string } | { readonly value: unknown })[] = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const current = item.value;
    if (typeof current !== 'object' || current === null) {
      out.push(JSON.stringify(current) ?? 'null');
      continue;
    }
    const pending: ({ readonly text: string } | { readonly value: unknown })[] = [];
    if (Array.isArray(current)) {
      pending.push({ text: '[' });
      current.forEach((child: unknown, i) => {
        if (i > 0) pending.push({ text: ',' });
        pending.push({ value: child });
      });
      pending.push({ text: ']' });
    } else {
      pending.push({ text: '{' });
      let first = true;
      for (const key of Object.keys(current)) {
        const child = (current as Record<string, unknown>)[key];
        if (child === undefined || typeof child === 'function') continue; // as JSON.stringify leaves them out
        pending.push({ text: `${first ? '' : ','}${JSON.stringify(key)}:` });
        pending.push({ value: child });
        first = false;
      }
      pending.push({ text: '}' });
    }
    for (let i = pending.length - 1; i >= 0; i--) stack.push(pending[i]!);
  }
  return out.join('');
};

/**
 * `value` as it is down to SAFE_NESTING levels, containers below that level replaced by null: a copy a structured
 * clone (postMessage) can take. The limits check finds the same first breach in it (at MESSAGE_JSON_LIMITS depth).
 */
export const prunedBeyondSafeNesting = <T>(value: T): T => {
  if (!deeperThan(value, SAFE_NESTING)) return value;
  const prune = (v: unknown, depth: number): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (depth > SAFE_NESTING) return null;
    if (Array.isArray(v)) return v.map((c: unknown) => prune(c, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, c]) => [k, prune(c, depth + 1)]));
  };
  return prune(value, 1) as T;
};
