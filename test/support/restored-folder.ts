import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openReadModels, type ReadModelDb } from '../../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir, type SqliteEventStore } from '../../adapters/driven/store/index.ts';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { createEngine, type Engine } from '../../adapters/engine/index.ts';
import { command } from '../../domain/commands/index.ts';
import { cmd, establishMeter, fixture, T0 } from './fleet.ts';

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

/** A clock `hours` after T0: the instant a restored folder's process decides at. */
export const hoursAfterT0 = (hours: number): FakeClock => new FakeClock(new Date(Date.parse(T0) + hours * 3_600_000));

/**
 * A fleet of two meters with their associations established, meter-1 then revoked, written through the engine alone
 * at hour 1: the cascade has not reacted yet, so a process opened on it later derives its reactions at its own clock.
 */
export const writeFleetWithARevokedMeter = async (dir: string): Promise<void> => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const engine = createEngine({ store, clock: hoursAfterT0(1) });
  await engine.execute(cmd.createSubscription());
  for (const n of [1, 2]) {
    await engine.execute(cmd.registerNode(`meter-${n}`));
    await establishMeter(engine, n);
  }
  await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: { id: 'operator:alice', role: 'operator' } }));
  await store.close();
};
