import Database from 'better-sqlite3';
import { CredenceError, storeUnavailable } from '../../../../domain/errors.ts';

/**
 * Why an append was not acknowledged: its group's transaction failed as a whole (an I/O error, the connection gone).
 * It may have been stored all the same: a COMMIT that fails at the WAL's sync may leave its frames in the WAL, and
 * recovery then replays them. A retry with the same command id is safe either way: it is stored at most once.
 */
export class GroupCommitError extends Error {
  constructor(cause: unknown) {
    super(
      `the append's group commit failed, so it may not have been stored; retry it with the same command id, which is ` +
        `stored at most once: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'GroupCommitError';
  }
}

const codeOf = (error: unknown): string => (error instanceof Database.SqliteError ? error.code : '');

/**
 * Whether SQLite refused a write for want of room: SQLITE_FULL (the disk, or `max_page_count`) or SQLITE_TOOBIG (a
 * row over SQLite's length limit). Extended codes start with the primary code's name.
 */
export const hasNoRoom = (error: unknown): boolean => {
  const code = codeOf(error);
  return code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_TOOBIG');
};

/** The SQLite result code and its fixed message: never a value of the append. */
const detailOf = (error: unknown): string => `${codeOf(error)}: ${error instanceof Error ? error.message : String(error)}`;

/**
 * What an append the store has no room for is refused with. SQLITE_FULL is the store's state (the disk or its size
 * limit), retryable once room is made; SQLITE_TOOBIG is the append's own size, which no retry changes, so it names
 * the argument like the store's other refusals of its input.
 */
export const noRoomFor = (error: unknown): Error =>
  codeOf(error).startsWith('SQLITE_TOOBIG')
    ? new Error(`events: the append is larger than the event store holds in one row (${detailOf(error)}); nothing was stored`, { cause: error })
    : storeUnavailable('full', detailOf(error));

/** What the appends of a group that could not take the write lock are refused with: typed, and safe to retry. */
export const writeLockHeldBy = (error: unknown): Error => storeUnavailable('busy', detailOf(error));

/**
 * What a call on a closed store is refused with (review 220 finding 2: an untyped Error, a 500 a caller could not
 * tell from a bug). A command still deciding when the service stopped stored nothing, and its command id makes a
 * retry safe once the store is open again: `store_unavailable` `closed`, 503.
 */
export const storeClosed = (): CredenceError => storeUnavailable('closed', 'SqliteEventStore was closed (the service is stopping)');
