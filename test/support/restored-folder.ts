import { copyFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openReadModels, type ReadModelDb } from '../../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir, type SqliteEventStore } from '../../adapters/driven/store/index.ts';
import type { Engine } from '../../adapters/engine/index.ts';
import { fixture } from './fleet.ts';

const filesOf = (dir: string, base: string): string[] => readdirSync(dir).filter((name) => name.startsWith(base));

/** The event store files of `from` copied over those of `to`, the stores closed: a backup taken, or one restored. */
export const copyEventStore = (from: string, to: string): void => {
  for (const name of filesOf(to, 'events.db')) rmSync(join(to, name));
  for (const name of filesOf(from, 'events.db')) copyFileSync(join(from, name), join(to, name));
};

/**
 * What README tells an operator to do once the event store was restored from an older backup: the transparency log,
 * which has logged the events the restore lost and stops, moved aside into `keep` so that a new one starts.
 */
export const moveTransparencyLogAside = (dir: string, keep: string): void => {
  for (const name of filesOf(dir, 'transparency.db')) renameSync(join(dir, name), join(keep, name));
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
