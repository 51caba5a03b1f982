import { damagedDatabaseOf } from '../driven/files/damaged-database.ts';
import { isWriteLockHeld, LockHeldElsewhere } from '../driven/files/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { failureCountOf, failuresIn } from '../protocols/procedures/sweep-failures.ts';
import { CHECKPOINT_WITNESS_FIELD } from './checkpoint-witness-file.ts';
import type { LiveOptions } from './live-runtime.ts';

/**
 * What status and GET /v1/projections say of a failure: a damaged database by its file's name only (the service's log
 * has its path and what mends it), not SQLite's bare "database disk image is malformed" (review 52).
 */
export const messageOf = (error: unknown): string => {
  // A combined failure (a sweep's, the tick's: throwFailures) said by the typed errors inside it, however deep (a
  // sweep's inside the tick's, review 415 F1), when it holds one: its own message names each inner one's, a damaged
  // database's path among them (review 412 F2). They speak for the whole only when every failure is one of them
  // (review 415 F3: a lock held among four Secure Environment failures said the lock alone).
  if (error instanceof AggregateError) {
    const typed = failuresIn(error).flatMap((f) => {
      const said = typedMessageOf(f.error);
      return said === undefined ? [] : [{ said, count: f.count }];
    });
    if (typed.length > 0) {
      const wordings = [...new Set(typed.map((t) => t.said))];
      const more = wordings.length - TYPED_NAMED_AT_MOST;
      const said = wordings.slice(0, TYPED_NAMED_AT_MOST).join('; ') + (more > 0 ? `; and ${more} more such` : '');
      const all = failureCountOf(error);
      const others = all - typed.reduce((n, t) => n + t.count, 0);
      if (others <= 0) return said;
      return `${all} failures, among them: ${said}; ${others} other${others === 1 ? '' : 's'}: the service's log names them`;
    }
  }
  return typedMessageOf(error) ?? (error instanceof Error ? error.message : String(error));
};

/** How many typed failures a combined failure's status words, each once (review 415 F2: two damaged files, both). */
const TYPED_NAMED_AT_MOST = 5;

/** What status says of a failure of a type it words itself; undefined for any other. */
const typedMessageOf = (error: unknown): string | undefined => {
  const damaged = damagedDatabaseOf(error);
  if (damaged?.problem.code === 'damaged_database') return `the database ${damaged.problem.file} is damaged: its operator must mend it (the service's log says how)`;
  // The witness's path is the server's own, as a database's is (review 109): the service's log names it.
  if (isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues.some((i) => i.path === CHECKPOINT_WITNESS_FIELD)) {
    return "the checkpoint witness could not be kept: its operator must mend it (the service's log says why)";
  }
  // A live component's pass or tick is tried again (live-timing.ts backoffMs): what a CLI meeting the lock is not told.
  if (error instanceof LockHeldElsewhere) return `${error.message}: the component tries again, backing off, and catches up once the lock is released`;
  return undefined;
};

// The HTTP layer maps and logs it (adapters/http: log-failure.ts, map-raised-error.ts) without reaching the adapter.
export { LockHeldElsewhere };

/**
 * The failure as a `LockHeldElsewhere` naming `file` when it is a lock held elsewhere that no adapter named (a read
 * model's write: readmodels.db, the log's: transparency.db); one an adapter named (keys.db) and any other as it is.
 */
export const namingLockedFile = (error: unknown, file: string): unknown =>
  !(error instanceof LockHeldElsewhere) && isWriteLockHeld(error) ? new LockHeldElsewhere(file, error) : error;

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
