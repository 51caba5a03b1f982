import type Database from 'better-sqlite3';
import { writeLockOf } from '../../projections/runtime/index.ts';

/**
 * Runs `read` on the read-model connection where it sees committed state only. A projection batch with reactions
 * keeps its transaction open across awaits (projections/runtime/batch.ts), and a read on the same connection
 * meanwhile would see its uncommitted rows: a revocation that the batch then rolls back would end up in a signed,
 * numbered CRL or an OCSP answer. better-sqlite3 is synchronous, so a read made while no transaction is open sees
 * committed rows only; otherwise the read waits for the connection's write lock, which every batch holds from its
 * BEGIN to its COMMIT or ROLLBACK.
 */
export const readCommitted = async <T>(db: Database.Database, read: () => T): Promise<T> => {
  if (!db.inTransaction) return read();
  return writeLockOf(db).run(() => {
    // Under the lock no batch is open; a transaction here was opened outside the projection runner.
    if (db.inTransaction) throw new Error('read-model connection: a transaction opened outside the projection runner is still open; not reading uncommitted state');
    return read();
  });
};
