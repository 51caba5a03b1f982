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

/**
 * An event stream's id as it crosses a boundary (GET /v1/events `id:` lines, `Last-Event-ID`, `after`, `credence
 * events --from`): the event's position, then `~` and a tag of the event there (8 lowercase hex digits). A position
 * alone names a place in whichever log reads it, so an id of another log (a re-created store, another instance) at
 * or below this one's head was resumed after without a word (review 185); the tag lets the server check the event.
 * A bare position is one too: what users type, and what earlier versions handed out.
 */
// Position 0 holds no event and no stream sends a tag with it: `0~<tag>` is malformed, not an id of another log (it
// was answered 409 as one, review 310).
const RESUME_POINT = /^(?:0|[1-9][0-9]*(?:~[0-9a-f]{8})?)$/;

const RESUME_POINT_MESSAGE = `must be an event id: a position (a decimal integer from 0 to ${MAX_POSITION}, 2^63 - 1), optionally followed by ~ and the 8 hex digits of its event's tag (position 0, which holds no event, takes none)`;

/** Splits a resume point that RESUME_POINT holds into its position (still a string) and its tag. */
const partsOf = (value: string): { readonly position: string; readonly tag?: string } => {
  const at = value.indexOf('~');
  return at < 0 ? { position: value } : { position: value.slice(0, at), tag: value.slice(at + 1) };
};

/** A resume point as a string, checked and kept as sent (headers, and the clients that pass it back as received). */
export const ResumePointString = z
  .string()
  .regex(RESUME_POINT, RESUME_POINT_MESSAGE)
  // The position's own range rule, as PositionString names it, read only once the pattern holds.
  .refine((value) => !RESUME_POINT.test(value) || PositionString.safeParse(partsOf(value).position).success, {
    message: RESUME_POINT_MESSAGE,
    params: { rule: POSITION_RANGE },
  })
  .describe('an event id: `<position>` or `<position>~<tag>` (the tag: 8 hex digits naming the event at that position)');

/** Where a stream resumes: strictly after `position`, which must hold the event `tag` names when one is given. */
export interface ResumePoint {
  readonly position: bigint;
  readonly tag?: string;
}

/** A checked ResumePointString as its position and tag. */
export const resumePointOf = (value: string): ResumePoint => {
  const { position, tag } = partsOf(ResumePointString.parse(value));
  return tag === undefined ? { position: BigInt(position) } : { position: BigInt(position), tag };
};

/** The same, parsed: for inputs (query) whose position goes to a store. */
export const ResumePoint = ResumePointString.transform(resumePointOf);
