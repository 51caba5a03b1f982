import Database from 'better-sqlite3';
import { pkiWritesHeldOpen } from '../../projections/pki/index.ts';
import { writeLockOf } from '../../projections/runtime/index.ts';

/**
 * Committed reads of the `pki` read model, for what signs from it (CRLs, OCSP answers). A projection batch with
 * reactions keeps its transaction open across awaits (projections/runtime/batch.ts, up to `maxBatchMs`), and a read
 * on the writing connection meanwhile would see its uncommitted rows: a revocation that the batch then rolls back
 * would end up in a signed, numbered CRL. Waiting for the batch instead would hold every uncached OCSP answer behind
 * the cascade's open batch.
 *
 * - `snapshot` (a read model in a file, WAL): a second connection, read-only, to the same file. In WAL mode a reader
 *   sees the last committed transaction and never waits for the writer; it can write nothing (SQLITE_READONLY).
 * - `shared` (an in-memory read model, which no second connection can open): reads run on the writing connection.
 *   The `pki` tables are written only by the `pki` projection, which the runner applies in one synchronous
 *   transaction per batch (it has no reactions), so between two turns of the event loop they hold committed rows
 *   even while another projection's batch is open: the read runs at once. Only when `pki` rows were written in a
 *   transaction that is still open (the projection run with reactions, which the service never does) does the read
 *   wait for the connection's write lock, which every batch holds from BEGIN to COMMIT or ROLLBACK.
 *
 * Either way a read never sees an uncommitted row. It is made only from adapters/runtime (the dependency rule keeps
 * projections from importing it), so a projection's own batch never waits on itself.
 */
export interface CommittedReadModel {
  readonly mode: 'snapshot' | 'shared';
  /** Runs `query` where it sees committed state only; `query` must not write (in `snapshot` mode it cannot). */
  read<T>(query: (db: Database.Database) => T): Promise<T>;
  /**
   * True while `pki` rows may have been written in a transaction of the writing connection that is still open (the
   * projection run with reactions; never the runner's synchronous `pki` batches). A change notified from inside such
   * a transaction is not visible to `read` until it ends: what is read meanwhile about it must not be cached.
   */
  uncommittedPkiWrites(): boolean;
  /** Closes the second connection (`snapshot`); reads after it are refused. */
  close(): void;
}

/** A WAL reader retries internally; a busy wait this long would only ever be a file another process locked. */
const READER_BUSY_TIMEOUT_MS = 1000;

const closedError = (): Error => new Error('committed read model: closed (the PKI publisher was stopped)');

const shared = (db: Database.Database): CommittedReadModel => {
  let closed = false;
  return {
    mode: 'shared',
    uncommittedPkiWrites: () => pkiWritesHeldOpen(db),
    async read(query) {
      if (closed) throw closedError();
      if (!db.inTransaction || !pkiWritesHeldOpen(db)) return query(db);
      return writeLockOf(db).run(() => {
        // Under the lock no batch is open; a transaction here was opened outside the projection runner.
        if (db.inTransaction) throw new Error('read-model connection: a transaction opened outside the projection runner is still open; not reading uncommitted state');
        return query(db);
      });
    },
    close() {
      closed = true;
    },
  };
};

const snapshot = (db: Database.Database): CommittedReadModel => {
  const reader = new Database(db.name, { readonly: true, fileMustExist: true });
  try {
    reader.pragma(`busy_timeout = ${READER_BUSY_TIMEOUT_MS}`);
    reader.pragma('query_only = ON');
    // As the writing connection reads them (adapters/driven/readmodels/open.ts).
    reader.defaultSafeIntegers(true);
  } catch (error) {
    reader.close();
    throw error;
  }
  return {
    mode: 'snapshot',
    uncommittedPkiWrites: () => pkiWritesHeldOpen(db),
    async read(query) {
      if (!reader.open) throw closedError();
      return query(reader);
    },
    close() {
      if (reader.open) reader.close();
    },
  };
};

/** The committed reads of `readModels`: a read-only WAL snapshot connection for a file, the shared one in memory. */
export const openCommittedReadModel = (readModels: Database.Database): CommittedReadModel => {
  if (readModels.memory) return shared(readModels);
  const journal = String(readModels.pragma('journal_mode', { simple: true })).toLowerCase();
  // Outside WAL a second connection would block on (or be blocked by) the writer's locks: read like memory.
  return journal === 'wal' ? snapshot(readModels) : shared(readModels);
};
