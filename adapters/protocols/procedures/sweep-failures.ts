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

/**
 * `error` itself again (its type, fields and stack kept: a copy, for the error object may be thrown elsewhere too),
 * its message saying how many failed as it did (a count, no path).
 */
const counted = (error: Error, count: number, summary: string): Error => {
  const copy = Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as Error;
  const message = `${cut(error.message)} (and ${count - 1} more of the same kind: ${count} ${summary})`;
  Object.defineProperty(copy, 'message', { value: message, writable: true, enumerable: false, configurable: true });
  return copy;
};

/**
 * Throws what a sweep (or the tick's closing steps, open-credence.ts) could not do, once every other part was done:
 * nothing when nothing failed; one failure as it was thrown; several of one kind (`kindOf`: the store or the Secure
 * Environment down fails each alike) as the first of them, its type kept, its message naming their count; others as
 * one AggregateError naming at most five and how many more (review 412 F2: 5,000 failing pending keys made a
 * 619,000-character message, logged and put into the component status at every tick). `summary` follows the count.
 */
export const throwFailures = (failures: readonly SweepFailure[], summary: string): void => {
  if (failures.length === 0) return;
  if (failures.length === 1) throw failures[0]!.error;
  const first = failures[0]!.error;
  const kind = kindOf(first);
  if (kind !== undefined && failures.every((f) => kindOf(f.error) === kind)) throw counted(first as Error, failures.length, summary);
  const named = failures.slice(0, NAMED_AT_MOST);
  const more = failures.length - named.length;
  const each = named.map((f) => `${f.what}: ${messageOf(f.error)}`).join('; ');
  // The named errors, then the first of each other typed kind (for whoever reports it by type: live-failure.ts).
  const kept = named.map((f) => f.error);
  const kinds = new Set(kept.map(kindOf));
  for (const f of failures.slice(NAMED_AT_MOST)) {
    if (kept.length >= KEPT_AT_MOST) break;
    const k = kindOf(f.error);
    if (k !== undefined && !kinds.has(k)) {
      kinds.add(k);
      kept.push(f.error);
    }
  }
  throw new AggregateError(kept, `${failures.length} ${summary} (${each}${more > 0 ? `; and ${more} more` : ''})`);
};
