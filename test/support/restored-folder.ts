import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openReadModels, type ReadModelDb } from '../../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir, type SqliteEventStore } from '../../adapters/driven/store/index.ts';
import type { Engine } from '../../adapters/engine/index.ts';
import { fixture } from './fleet.ts';

const filesOf = (dir: string, base: string): string[] => readdirSync(dir).filter((name) => name.startsWith(base));

/**
 * The event store of `from` put in place of that of `to`, as README ("Restoring the event store from a backup")
 * says, the stores closed: a backup taken of a cleanly closed store, or one restored. `to`'s `events.db` goes with
 * its `events.db-wal` and `events.db-shm` (a WAL left beside the backup would be replayed over it), and only `from`'s
 * `events.db` is copied: a store closed cleanly has checkpointed its WAL, and one that was not is refused here (its
 * file alone lacks what its WAL holds: take that backup with SQLite's online backup instead).
 */
export const copyEventStore = (from: string, to: string): void => {
  const wal = join(from, 'events.db-wal');
  if (existsSync(wal) && statSync(wal).size > 0) throw new Error(`${wal} holds frames: ${from}'s store was not closed cleanly`);
  for (const name of filesOf(to, 'events.db')) rmSync(join(to, name));
  copyFileSync(join(from, 'events.db'), join(to, 'events.db'));
};

/**
 * What README tells an operator to do once the event store was restored from an older backup: the transparency log,
 * which has logged the events the restore lost and stops, moved aside into `keep` with its key and public key (or
 * Secure Environment handle), so that a new log starts under a new key.
 */
export const moveTransparencyLogAside = (dir: string, keep: string): void => {
  for (const name of filesOf(dir, 'transparency.')) renameSync(join(dir, name), join(keep, name));
};

/**
 * The embedded store (durability `normal`) and the read models of `dir`, with an engine over the store, for `work`;
 * both closed after, whatever `work` did.
 */
export const withStoreAndReadModels = async <T>(
  dir: string,
  work: (opened: { readonly store: SqliteEventStore; readonly db: ReadModelDb; readonly engine: Engine }) => Promise<T>,
): Promise<T> => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const db = openReadModels({ dir });
  try {
    return await work({ store, db, engine: fixture(store).engine });
  } finally {
    db.close();
    await store.close();
  }
};
