import { isCredenceError } from '../../../domain/errors.ts';

/** What a sweep could not settle (`what`, by handle or id: no secret) and why. */
export interface SweepFailure {
  readonly what: string;
  readonly error: unknown;
}

/** How many failures a combined failure's message names, and how much of each one's message (review 412 F2). */
const NAMED_AT_MOST = 5;
const MESSAGE_CHARS_AT_MOST = 300;
/** How many inner errors an AggregateError of them keeps: the named ones, then the first of each other typed kind. */
const KEPT_AT_MOST = 10;
const UNTYPED: ReadonlySet<unknown> = new Set([Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]);

/**
 * A failure's kind, when it has one to report by: a CredenceError's code (`damaged_database`, …), or the class of an
 * error of its own class (LockHeldElsewhere, the store's errors) with its `code` when it has one. A plain Error has none.
 */
const kindOf = (error: unknown): string | undefined => {
  if (isCredenceError(error)) return `CredenceError:${error.problem.code}`;
  if (!(error instanceof Error) || UNTYPED.has(error.constructor)) return undefined;
  const code = (error as { code?: unknown }).code;
  return `${error.constructor.name}:${typeof code === 'string' ? code : ''}`;
};

const cut = (message: string): string => (message.length <= MESSAGE_CHARS_AT_MOST ? message : `${message.slice(0, MESSAGE_CHARS_AT_MOST)}…`);
const messageOf = (error: unknown): string => cut(error instanceof Error ? error.message : String(error));

/** An error a combined failure holds, and how many failures it stands for there (itself and those alike left out). */
export interface CountedFailure {
  readonly error: unknown;
  readonly count: number;
}

/** How many failures a counted copy (`counted`) stands for. */
const COUNTED = new WeakMap<object, number>();
/** For an AggregateError thrown here: how many failures each of its errors stands for, and how many in all. */
const TALLIED = new WeakMap<object, { readonly each: readonly number[]; readonly all: number }>();

const isCombined = (error: unknown): error is AggregateError =>
  error instanceof AggregateError && Array.isArray(error.errors) && error.errors.length > 0;

/**
 * The failures an error is made of, depth-first, each with how many it stands for: an AggregateError's inner errors,
 * theirs when they are AggregateErrors too (a sweep's inside the tick's, review 415 F1); any other error itself.
 */
export const failuresIn = (error: unknown, seen: Set<unknown> = new Set()): CountedFailure[] => {
  if (!isCombined(error)) return [{ error, count: (typeof error === 'object' && error !== null ? COUNTED.get(error) : undefined) ?? 1 }];
  if (seen.has(error)) return [];
  seen.add(error);
  const tallied = TALLIED.get(error);
  return (error.errors as unknown[]).flatMap((e, i) => {
    const inner = failuresIn(e, seen);
    // What throwFailures kept is flat already: its tally says how many each stands for.
    return tallied !== undefined && inner.length === 1 ? [{ error: inner[0]!.error, count: tallied.each[i] ?? inner[0]!.count }] : inner;
  });
};

/** How many failures `error` stands for: what throwFailures counted, else one for each it is made of (`failuresIn`). */
export const failureCountOf = (error: unknown, seen: Set<unknown> = new Set()): number => {
  if (!isCombined(error)) return failuresIn(error)[0]!.count;
  const all = TALLIED.get(error)?.all;
  if (all !== undefined) return all;
  if (seen.has(error)) return 0;
  seen.add(error);
  return (error.errors as unknown[]).reduce((n: number, e) => n + failureCountOf(e, seen), 0);
};

/**
 * `error` itself again (its type, fields and stack kept: a copy, for the error object may be thrown elsewhere too),
 * its message saying how many failed as it did (a count, no path).
 */
const counted = (error: Error, count: number, summary: string): Error => {
  const copy = Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as Error;
  const message = `${cut(error.message)} (and ${count - 1} more of the same kind: ${count} ${summary})`;
  Object.defineProperty(copy, 'message', { value: message, writable: true, enumerable: false, configurable: true });
  COUNTED.set(copy, count);
  return copy;
};

/**
 * Throws what a sweep (or the tick's closing steps, open-credence.ts) could not do, once every other part was done:
 * nothing when nothing failed; one failure as it was thrown; several alike (of one kind, `kindOf`, and with one
 * message: the store or the Secure Environment down fails each alike) as the first of them, its type kept, its message
 * naming their count; others as one AggregateError naming at most five and how many more (review 412 F2: 5,000 failing
 * pending keys made a 619,000-character message, logged and put into the component status at every tick). Two damaged
 * files, or two validation errors by different rules, are not alike (review 415 F2: all but the first went unsaid).
 * An AggregateError among the failures (the sweep's, inside the tick's) gives its inner errors, not itself, to the one
 * thrown (review 415 F1). `summary` follows the count.
 */
export const throwFailures = (failures: readonly SweepFailure[], summary: string): void => {
  if (failures.length === 0) return;
  if (failures.length === 1) throw failures[0]!.error;
  const first = failures[0]!.error;
  const kind = kindOf(first);
  const said = messageOf(first);
  if (kind !== undefined && failures.every((f) => kindOf(f.error) === kind && messageOf(f.error) === said)) {
    throw counted(first as Error, failures.length, summary);
  }
  const named = failures.slice(0, NAMED_AT_MOST);
  const more = failures.length - named.length;
  const each = named.map((f) => `${f.what}: ${messageOf(f.error)}`).join('; ');
  // The named failures' errors (an AggregateError's inner ones, flattened), then the first of each other typed kind
  // (for whoever reports it by type: live-failure.ts), at most KEPT_AT_MOST; one left out counted with the first kept
  // alike, so that the status says how many failed of each kind it words (review 415 F3).
  const kept: { error: unknown; count: number; kind: string | undefined; said: string }[] = [];
  const keep = (f: CountedFailure, always: boolean): void => {
    const itsKind = kindOf(f.error);
    const itsMessage = messageOf(f.error);
    if (kept.length < KEPT_AT_MOST && (always || (itsKind !== undefined && !kept.some((k) => k.kind === itsKind)))) {
      kept.push({ error: f.error, count: f.count, kind: itsKind, said: itsMessage });
      return;
    }
    const alike = itsKind === undefined ? undefined : kept.find((k) => k.kind === itsKind && k.said === itsMessage);
    if (alike !== undefined) alike.count += f.count;
  };
  for (const f of named.flatMap((n) => failuresIn(n.error))) keep(f, kept.length < NAMED_AT_MOST);
  for (const n of failures.slice(NAMED_AT_MOST)) for (const f of failuresIn(n.error)) keep(f, false);
  const errors = kept.map((k) => k.error);
  const aggregate = new AggregateError(errors, `${failures.length} ${summary} (${each}${more > 0 ? `; and ${more} more` : ''})`);
  TALLIED.set(aggregate, { each: kept.map((k) => k.count), all: failures.reduce((n, f) => n + failureCountOf(f.error), 0) });
  throw aggregate;
};
