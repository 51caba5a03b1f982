import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { ProjectionRunner, readCheckpoint, type Projection, type ResetCause } from '../projections/runtime/index.ts';
import { cmd, fixture } from './support/fleet.ts';
import { copyEventStore } from './support/restored-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A read model is derived from one log. When the event store is restored from a backup older than the read models,
 * or a data folder is given another fleet's events, the read model's checkpoint names an event the store does not
 * hold: kept, it would serve rows of events that are gone and skip the events now stored at positions it believes
 * handled. The runner finds that once, before it first reads the store, and rebuilds the read model from position 0.
 */

const folder = temporaryFolders('credence-another-log-');

/** Registers and enrols nodes `from`..`to` - 1 through the engine, on the store of `dir`. */
const writeNodes = async (dir: string, from: number, to: number): Promise<void> => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const { engine } = fixture(store);
  if (from === 0) await engine.execute(cmd.createSubscription());
  for (let i = from; i < to; i++) {
    await engine.execute(cmd.registerNode(`meter-${i}`));
    await engine.execute(cmd.enrolNode(`meter-${i}`));
  }
  await store.close();
};

/** A projection that records every reset and its cause. */
const resetsOf = (resets: (ResetCause | undefined)[]): Projection => ({
  name: 'resets',
  eventTypes: ['NodeRegistered'],
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS registered (node_id TEXT PRIMARY KEY)'),
  reset: (db, cause) => {
    resets.push(cause);
    db.exec('DELETE FROM registered');
  },
  apply: (db, e) => void db.prepare('INSERT INTO registered VALUES (?)').run((e.event.data as { nodeId: string }).nodeId),
});

interface Projected {
  readonly audited: { position: bigint; event_id: string }[];
  readonly registered: string[];
  readonly found: readonly { name: string; reason: string }[];
  readonly resets: (ResetCause | undefined)[];
}

/** Catches the audit trail and the `resets` projection up on the store of `dir`, with the read models of `models`. */
const project = async (dir: string, models: string): Promise<Projected> => {
  const store: EventStore = openSqliteStoreInDir(dir, { durability: 'normal' });
  const db = openReadModels({ dir: models });
  const resets: (ResetCause | undefined)[] = [];
  try {
    const runner = new ProjectionRunner({ db, store, projections: [auditTrail(), resetsOf(resets)] });
    const found = await runner.checkLog();
    await runner.catchUp();
    return {
      audited: db.prepare('SELECT position, event_id FROM audit_events ORDER BY position').safeIntegers(true).all() as { position: bigint; event_id: string }[],
      registered: (db.prepare('SELECT node_id FROM registered ORDER BY node_id').all() as { node_id: string }[]).map((r) => r.node_id),
      found: found.map(({ name, reason }) => ({ name, reason })),
      resets,
    };
  } finally {
    db.close();
    await store.close();
  }
};

/** Every event of the store of `dir`, as the audit trail keys them. */
const logOf = async (dir: string): Promise<{ position: bigint; event_id: string }[]> => {
  const store = openSqliteStoreInDir(dir, { durability: 'normal' });
  const events: { position: bigint; event_id: string }[] = [];
  for await (const r of store.readAll()) events.push({ position: r.position, event_id: r.id });
  await store.close();
  return events;
};

describe('read models of another log', () => {
  it('are rebuilt when the event store is restored from an older backup', async () => {
    const live = folder();
    const backup = folder();
    const models = folder();
    await writeNodes(live, 0, 3);
    copyEventStore(live, backup);
    await writeNodes(live, 3, 6);
    const before = await project(live, models);
    expect(before.registered).toHaveLength(6);
    expect(before.found).toEqual([]);

    copyEventStore(backup, live);
    const after = await project(live, models);
    // Both checkpoints sit past the restored head: no event is stored there.
    expect(after.found).toEqual([
      { name: 'audit', reason: 'no-event' },
      { name: 'resets', reason: 'no-event' },
    ]);
    expect(after.resets).toEqual(['another-log']);
    expect(after.registered).toEqual(['meter-0', 'meter-1', 'meter-2']);
    expect(after.audited).toEqual(await logOf(live));
  });

  it('are rebuilt when the restored store has since written other events at the positions they handled', async () => {
    const live = folder();
    const backup = folder();
    const models = folder();
    await writeNodes(live, 0, 2);
    copyEventStore(live, backup);
    await writeNodes(live, 2, 4);
    await project(live, models);

    // Restored, then written on before the read models saw it: positions reused by other events, the head past them.
    copyEventStore(backup, live);
    await writeNodes(live, 10, 14);
    const after = await project(live, models);
    expect(after.found).toEqual([
      { name: 'audit', reason: 'other-event' },
      { name: 'resets', reason: 'other-event' },
    ]);
    expect(after.registered).toEqual(['meter-0', 'meter-1', 'meter-10', 'meter-11', 'meter-12', 'meter-13']);
    expect(after.audited).toEqual(await logOf(live));
  });

  it('leaves read models of this log as they are, and checks once per runner', async () => {
    const live = folder();
    const models = folder();
    await writeNodes(live, 0, 2);
    await project(live, models);
    await writeNodes(live, 2, 3);
    const after = await project(live, models);
    expect(after.found).toEqual([]);
    expect(after.resets).toEqual([]);
    expect(after.registered).toEqual(['meter-0', 'meter-1', 'meter-2']);

    const store = openSqliteStoreInDir(live, { durability: 'normal' });
    const db = openReadModels({ dir: models });
    try {
      let reads = 0;
      const counted: EventStore = Object.assign(Object.create(store) as EventStore, {
        recordAt: (position: bigint) => ((reads += 1), store.recordAt!(position)),
      });
      const runner = new ProjectionRunner({ db, store: counted, projections: [auditTrail()] });
      await runner.catchUp();
      await runner.catchUp();
      expect(await runner.checkLog()).toEqual([]);
      expect(reads).toBe(1);
    } finally {
      db.close();
      await store.close();
    }
  });

  it('compares a checkpoint written before event ids were kept with the head only', async () => {
    const live = folder();
    const oldFile = join(folder(), 'readmodels-of-an-earlier-version.db');
    await writeNodes(live, 0, 2);
    const head = (await logOf(live)).at(-1)!.position;
    // A read-model file of an earlier version: no event_id column; one checkpoint at the head, one past it.
    const old = new Database(oldFile);
    old.exec('CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, occurred_at TEXT NOT NULL)');
    old.prepare('INSERT INTO projection_checkpoints VALUES (?, ?, ?)').run('at-head', head, '2026-01-01T00:00:00.000Z');
    old.prepare('INSERT INTO projection_checkpoints VALUES (?, ?, ?)').run('past-head', head + 1n, '2026-01-01T00:00:00.000Z');
    old.defaultSafeIntegers(true);
    setupCheckpoints(old);
    expect(readCheckpoint(old, 'at-head')).toEqual({ position: head, occurredAt: '2026-01-01T00:00:00.000Z' });

    const resets: string[] = [];
    const named = (name: string): Projection => ({ name, eventTypes: ['NodeEnrolled'], setup: () => {}, reset: () => void resets.push(name), apply: () => {} });
    const store = openSqliteStoreInDir(live, { durability: 'normal' });
    try {
      const runner = new ProjectionRunner({ db: old, store, projections: [named('at-head'), named('past-head')] });
      expect((await runner.checkLog()).map(({ name, reason }) => ({ name, reason }))).toEqual([{ name: 'past-head', reason: 'past-head' }]);
      expect(resets).toEqual(['past-head']);
      await runner.catchUp();
      // Caught up again from position 0 over this log: its checkpoint now carries the id of the event it names.
      const [last] = (await logOf(live)).filter((e) => e.position <= head).slice(-1);
      expect(readCheckpoint(old, 'past-head')).toMatchObject({ position: last!.position, eventId: last!.event_id });
    } finally {
      old.close();
      await store.close();
    }
  });

  it('writes nothing when the store cannot be read, and checks again on the next call', async () => {
    const live = folder();
    const models = folder();
    await writeNodes(live, 0, 1);
    await project(live, models);
    const store = openSqliteStoreInDir(live, { durability: 'normal' });
    const db = openReadModels({ dir: models });
    try {
      let failing = true;
      const flaky: EventStore = Object.assign(Object.create(store) as EventStore, {
        recordAt: (position: bigint) => (failing ? Promise.reject(new Error('store unreachable')) : store.recordAt!(position)),
      });
      const runner = new ProjectionRunner({ db, store: flaky, projections: [auditTrail()] });
      const checkpoint = readCheckpoint(db, 'audit');
      await expect(runner.catchUp()).rejects.toThrow('store unreachable');
      expect(readCheckpoint(db, 'audit')).toEqual(checkpoint);
      failing = false;
      expect(await runner.checkLog()).toEqual([]);
    } finally {
      db.close();
      await store.close();
    }
  });

  it('keeps the id of the event each checkpoint names', async () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    writeCheckpoint(db, 'p', { position: 5n, occurredAt: 'x', eventId: 'e-5' });
    // Forward only, the id with the position.
    writeCheckpoint(db, 'p', { position: 4n, occurredAt: 'y', eventId: 'e-4' });
    expect(readCheckpoint(db, 'p')).toEqual({ position: 5n, occurredAt: 'x', eventId: 'e-5' });
    writeCheckpoint(db, 'p', { position: 6n, occurredAt: 'z', eventId: 'e-6' });
    expect(readCheckpoint(db, 'p')).toEqual({ position: 6n, occurredAt: 'z', eventId: 'e-6' });
    db.close();
  });
});
