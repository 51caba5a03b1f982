import type { FastifyBaseLogger } from 'fastify';
import { damagedDatabaseOf } from '../runtime/damaged-database.ts';
import { LockHeldElsewhere, messageOf } from '../runtime/live-failure.ts';

/**
 * Logs a failure at error. A damaged database is logged as the file and what mends it, without a stack: SQLite's bare
 * "database disk image is malformed" names no file, and a live component that meets it says so at every pass (review
 * 52: a damaged readmodels.db was a SqliteError with its stack once a second). Another process's write lock on a
 * live component's file is no fault of the service: at warn, the file and the message. Anything else with its error,
 * as `msg`.
 */
export const logFailure = (log: FastifyBaseLogger, error: unknown, msg: string, fields: Readonly<Record<string, unknown>> = {}): void => {
  if (error instanceof LockHeldElsewhere) {
    // A live component's pass tries again by itself; a request does not (review 118): its log says no more than the lock.
    log.warn({ ...fields, file: error.file }, 'component' in fields ? messageOf(error) : error.message);
    return;
  }
  const damaged = damagedDatabaseOf(error);
  if (damaged?.problem.code === 'damaged_database') {
    const { file, path, remedy } = damaged.problem;
    // Its own message, as the service's error handler logs it: the file, SQLite's code and what mends it.
    log.error({ ...fields, file, path, remedy }, damaged.message);
  } else {
    log.error({ ...fields, err: error }, msg);
  }
};
