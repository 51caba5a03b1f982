/**
 * Whether a position a stream is asked to resume strictly after is a place in the store's log: one check for GET
 * /v1/events and the compliance queries (adapters/http/routes/resume-point.ts, which adds an id's tag and a scoped
 * principal's words) and for the library's streams (`lifecycleEvents$`, `publicEvents$`), which took a position past
 * the head without a word (review 206): they skipped every event up to it, and the pseudonymised one folded identities
 * only to the head, publishing a node's pseudonym of before a rotation it never folded (SER-011).
 */
import { CredenceError } from '../../domain/errors.ts';
import { resumePointNotInLog } from '../../domain/positions.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';

/**
 * What else a position may be on a store whose records other applications' scavenges remove (not gapless: EventStoreDB
 * shared with them): earlier versions opened a `from=end` stream at the newest record, whoever wrote it, and that id
 * outlived the record (review 160). Said as it is: the client was handed it, it is no backup's.
 */
const SCAVENGED =
  ", or the position of another application's record, since deleted or trimmed and scavenged from the shared cluster (earlier versions started a from=end stream at the newest record, whoever wrote it)";

/** What a refusal adds on a store that is not gapless (SCAVENGED), nothing on one that is. */
export const scavengedNoteOf = (store: EventStore): string => (store.gapless === true ? '' : SCAVENGED);

/**
 * Why `after`, at or below the head, is no event's own position on a store whose positions are not gapless; undefined
 * when an event is there (or the store has every position up to its head). EventStoreDB starts after the record at a
 * position, so one a little before an event's (inside the record before it) skipped that event without a word, where
 * the embedded store resumes after any position (review 132); a real server refuses a position inside a record.
 */
const noEventThere = async (store: EventStore, after: bigint): Promise<string | undefined> => {
  if (after === 0n || store.gapless === true || store.recordAt === undefined) return undefined;
  if ((await store.recordAt(after)) !== undefined) return undefined;
  return `cannot resume after ${after}: no event of this log is at that position (a store restored from an older backup, or a position never handed out), and this store resumes only after an event's own position`;
};

/**
 * The log's head as read now, and why `after` is no place in the log (domain/positions.ts `resumePointNotInLog`, then
 * `noEventThere`); `why` is undefined when it is one. Without scavengedNoteOf, which the caller adds to what it says.
 */
export const resumePointInLog = async (store: EventStore, after: bigint): Promise<{ readonly head: bigint | undefined; readonly why: string | undefined }> => {
  const head = await store.headPosition();
  return { head, why: resumePointNotInLog(after, head) ?? (await noEventThere(store, after)) };
};

/** What a library subscriber refused so does: the counterpart of GET /v1/events' `from=start` advice. */
const RESTART = "subscribe again from 'start', which misses nothing ('end' skips what was appended meanwhile), and set aside what was received past the newest event";

/**
 * Refuses, when a stream is subscribed, a position to resume after that is no place in the store's log: a
 * `resume_point_not_in_log` CredenceError in the words of GET /v1/events' 409, naming the position and the head.
 */
export const refuseResumePointNotInLog = async (store: EventStore, after: bigint): Promise<void> => {
  const { head, why } = await resumePointInLog(store, after);
  if (why === undefined) return;
  throw new CredenceError({
    code: 'resume_point_not_in_log',
    message: `${why}${scavengedNoteOf(store)}; ${RESTART}`,
    resumeAfter: after.toString(10),
    ...(head !== undefined ? { head: head.toString(10) } : {}),
  });
};
