import { z } from 'zod';

/**
 * Global positions and stream revisions as they cross a boundary (HTTP query, header and body, a protocol
 * message, the CLI): a decimal string, since JSON has no 64-bit integers. One bounded schema for all of them, so
 * that a value no store can hold is a validation error at the edge and never reaches a store (SQLite binds
 * INTEGER as a signed 64-bit value: 2^63 and above throw there, which surfaced as a 500).
 */

/** Orders anything by its global position (bigint: no subtraction to a number). */
export const byPosition = (a: { readonly position: bigint }, b: { readonly position: bigint }): number =>
  a.position < b.position ? -1 : a.position > b.position ? 1 : 0;

/** The largest position or revision: 2^63 - 1, the largest signed 64-bit integer. */
export const MAX_POSITION = 2n ** 63n - 1n;

/**
 * Canonical decimal: `0`, or digits without a leading zero. Of any length, so that one of more digits than 2^63 - 1
 * has (19) is refused as out of range, as one of 19 above it is, not as of another form (review 130).
 */
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

const MESSAGE = `must be a decimal integer from 0 to ${MAX_POSITION} (2^63 - 1)`;

/** The rule a refusal names for a position in canonical decimal above MAX_POSITION (`invalid_format` for one not). */
const POSITION_RANGE = 'position_range';

/** A position or revision as a decimal string, checked and kept as a string (response schemas, JSON bodies). */
export const PositionString = z
  .string()
  .regex(DECIMAL, MESSAGE)
  // Only read once the pattern holds (else the pattern's issue is the one reported), so BigInt never throws. Named, so
  // that a refusal says which rule failed rather than zod's `custom` (review 120).
  .refine((value) => !DECIMAL.test(value) || (value.length <= 19 && BigInt(value) <= MAX_POSITION), { message: MESSAGE, params: { rule: POSITION_RANGE } })
  .describe(`unsigned integer up to 2^63 - 1 (${MAX_POSITION}) as a decimal string`);

/** The same, as the bigint the stores take: for inputs (query, header, body) whose value goes to a store. */
export const Position = PositionString.transform((value) => BigInt(value));

/**
 * Why `after`, a position to resume strictly after (the last one read), names no position of a log whose newest event
 * is at `head`: past the head, it is an id of another log (the store restored from an older backup) or one never
 * handed out, and resuming there would skip every event up to it without a word. Undefined when it is in the log;
 * 0 skips nothing, even on an empty log. GET /v1/events and the compliance queries refuse it alike (409).
 */
export const resumePointNotInLog = (after: bigint, head: bigint | undefined): string | undefined => {
  if (after === 0n || (head !== undefined && after <= head)) return undefined;
  const newest = head === undefined ? 'this log holds no event' : `this log's newest event is at ${head}`;
  return `cannot resume after ${after}: ${newest}, so it is no position of this log (a store restored from an older backup, or a position never handed out)`;
};
