import { damagedDatabaseOf } from '../driven/files/damaged-database.ts';
import { isWriteLockHeld } from '../driven/files/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { CHECKPOINT_WITNESS_FIELD } from './checkpoint-witness-file.ts';
import type { LiveOptions } from './live-runtime.ts';

/**
 * What status and GET /v1/projections say of a failure: a damaged database by its file's name only (the service's log
 * has its path and what mends it), not SQLite's bare "database disk image is malformed" (review 52).
 */
export const messageOf = (error: unknown): string => {
  const damaged = damagedDatabaseOf(error);
  if (damaged?.problem.code === 'damaged_database') return `the database ${damaged.problem.file} is damaged: its operator must mend it (the service's log says how)`;
  // The witness's path is the server's own, as a database's is (review 109): the service's log names it.
  if (isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues.some((i) => i.path === CHECKPOINT_WITNESS_FIELD)) {
    return "the checkpoint witness could not be kept: its operator must mend it (the service's log says why)";
  }
  return error instanceof Error ? error.message : String(error);
};

/**
 * A live component's write that another process's write lock refused (SQLITE_BUSY past LOCK_WAIT_MS), naming the file:
 * SQLite's "database is locked" names none. Not a fault of the service (a CLI's export, an operator's sqlite3), so the
 * service logs it at warn, without a stack (adapters/http/log-failure.ts).
 */
export class LockHeldElsewhere extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`${file} is locked by another process's write transaction (SQLITE_BUSY): the component tries again, backing off, and catches up once the lock is released`, { cause });
    this.name = 'LockHeldElsewhere';
  }
}

/** The failure as a `LockHeldElsewhere` naming `file` when it is one; any other failure as it is. */
export const namingLockedFile = (error: unknown, file: string): unknown => (isWriteLockHeld(error) ? new LockHeldElsewhere(file, error) : error);

/** Hands a component's failure to `options.onError`. */
export const reporterOf =
  (options: Pick<LiveOptions, 'onError'>) =>
  (component: string, error: unknown): void => {
    try {
      options.onError?.(component, error);
    } catch {
      // The error sink must never take the runtime down with it.
    }
  };
