// Issue 15 item 5: the bookkeeping an association's establishment or end calls for (its credential's, its node's, its
// App-ID's: one command per target) is issued together and left in flight, so the store commits a batch's bookkeeping
// in few groups (few syncs), not one per command; each target still sees its commands in the order of their events; a
// failure of any of them still leaves the event unhandled, and a later run records what is missing; one that has a
// dead letter to write is handled again in its turn, the dead letter where one event at a time leaves it.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { ProjectionRunner, readCheckpoint } from '../projections/runtime/index.ts';
import { BrokenHistoryError } from '../machines/index.ts';
import { cmd, establishedFleet, establishOne, fixture, footprint } from './support/fleet.ts';

const memoryDb = () => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

/** The cascade caught up over the store through `sink`: the groups the store committed meanwhile and the events appended. */
const catchUp = async (store: SqliteEventStore, sink: CommandSink, db = memoryDb()) => {
  const groups = store.groupStats.groups;
  const before = await footprint(store);
  await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(sink)] }).catchUp();
  const after = await footprint(store);
  return { groups: store.groupStats.groups - groups, appended: after.count - before.count, db };
};

const typesSince = async (store: SqliteEventStore, count: number): Promise<string[]> => {
  const types: string[] = [];
  for await (const record of store.readAll()) types.push(record.type);
  return types.slice(count);
};

describe("the cascade's bookkeeping of one event", () => {
  it("records an established association on its credential and its node in one group commit", async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    await establishOne(f.engine);
    const { count } = await footprint(store);
    const { groups, appended } = await catchUp(store, f.engine);
    expect(await typesSince(store, count)).toEqual(expect.arrayContaining(['CredentialAssociated', 'NodeAssociated']));
    expect(appended).toBe(2);
    expect(groups).toBe(1);
    await store.close();
  });

  it('releases an ended association on its credential and its node in one group commit', async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    await establishOne(f.engine);
    const db = memoryDb();
    await catchUp(store, f.engine, db);
    await f.engine.execute(cmd.revokeAssociation('sa-1', 'cessationOfOperation'));
    const { count } = await footprint(store);
    const { groups, appended } = await catchUp(store, f.engine, db);
    expect(await typesSince(store, count)).toEqual(expect.arrayContaining(['CredentialAssociationReleased', 'NodeAssociationReleased']));
    expect(appended).toBe(2);
    expect(groups).toBe(1);
    await store.close();
  });

  it('leaves the event unhandled when one of them fails, and a later run records the one missing', async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    await establishOne(f.engine);
    const failing: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        if ((input as { type?: string }).type === 'recordNodeAssociation') throw new Error('the disk is gone');
        return f.engine.executeAsSystem(input);
      },
    };
    const db = memoryDb();
    const head = await store.headPosition();
    await expect(catchUp(store, failing, db)).rejects.toThrow('the disk is gone');
    // The credential's bookkeeping was recorded; the event's checkpoint was not written past it.
    expect((readCheckpoint(db, 'cascade')?.position ?? 0n) < head!).toBe(true);
    const { count } = await footprint(store);
    const { appended } = await catchUp(store, f.engine, db);
    expect(await typesSince(store, count)).toEqual(['NodeAssociated']);
    expect(appended).toBe(1);
    expect(readCheckpoint(db, 'cascade')?.position).toBe(await store.headPosition());
    await store.close();
  });

  it("of a batch of associations is committed in fewer groups than associations", async () => {
    const store = openSqliteStore({ memory: true });
    const f = await establishedFleet(30, store);
    const { groups, appended } = await catchUp(store, f.engine);
    expect(appended).toBe(60);
    // One event at a time, each association's bookkeeping was a group of its own: 30.
    expect(groups).toBeLessThan(10);
    await store.close();
  });

  it('reaches each target in the order of its events, a record before its release, whichever is decided first', async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    await establishOne(f.engine);
    await f.engine.execute(cmd.revokeAssociation('sa-1', 'cessationOfOperation'));
    // The records held back: a release not waiting for them would be refused, the association never released.
    const slowRecords: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        if (String((input as { type?: string }).type).startsWith('record')) await new Promise((resolve) => setTimeout(resolve, 30));
        return f.engine.executeAsSystem(input);
      },
    };
    const db = memoryDb();
    await catchUp(store, slowRecords, db);
    const typesOf = async (streamId: string) => (await store.readStream(streamId)).map((r) => r.type);
    expect((await typesOf('credential-cred-1')).slice(-2)).toEqual(['CredentialAssociated', 'CredentialAssociationReleased']);
    expect((await typesOf('node-meter-1')).slice(-2)).toEqual(['NodeAssociated', 'NodeAssociationReleased']);
    expect(db.prepare('SELECT COUNT(*) FROM cascade_dead_letters').pluck().get()).toBe(0n);
    await store.close();
  });

  it('writes a dead letter met in flight in its turn, where one event at a time writes it', async () => {
    const store = openSqliteStore({ memory: true });
    const f = await establishedFleet(6, store);
    const broken: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        const { type, data } = input as { type?: string; data?: { nodeId?: string } };
        if (type === 'recordNodeAssociation' && data?.nodeId === 'meter-4') throw new BrokenHistoryError('node-meter-4', 3n, 'a test says so');
        return f.engine.executeAsSystem(input);
      },
    };
    const letters = (db: Database.Database) =>
      db.prepare('SELECT position, event_type, command, target, stream, broken_history FROM cascade_dead_letters ORDER BY position').all();
    const batched = memoryDb();
    await new ProjectionRunner({ db: batched, store, projections: [cascadeProcessManager(broken)] }).catchUp();
    expect(letters(batched)).toHaveLength(1);
    expect(letters(batched)[0]).toMatchObject({ command: 'recordNodeAssociation', target: 'meter-4', stream: 'node-meter-4' });
    // The same events handled one per transaction leave the same dead letter.
    const oneByOne = memoryDb();
    await new ProjectionRunner({ db: oneByOne, store, projections: [cascadeProcessManager(broken)], batchSize: 1 }).catchUp();
    expect(letters(oneByOne)).toEqual(letters(batched));
    expect(readCheckpoint(batched, 'cascade')?.position).toBe(await store.headPosition());
    // Every other node's association was recorded once.
    const recorded: string[] = [];
    for await (const r of store.readAll()) if (r.type === 'NodeAssociated') recorded.push(r.streamId);
    expect(recorded.sort()).toEqual(['node-meter-1', 'node-meter-2', 'node-meter-3', 'node-meter-5', 'node-meter-6']);
    await store.close();
  });

  it("commits nothing on a target past a failed command, and keeps each target's order once run again", async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    await establishOne(f.engine);
    for (const c of [cmd.issueCredential('cred-2'), cmd.provisionCredential('cred-2'), cmd.configureAssociation('sa-2', 'cred-2'), cmd.establishAssociation('sa-2')]) {
      await f.engine.execute(c);
    }
    let failures = 1;
    const failingOnce: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        const { type, data } = input as { type?: string; data?: { associationId?: string } };
        if (type === 'recordNodeAssociation' && data?.associationId === 'sa-1' && failures-- > 0) throw new Error('the disk is gone');
        return f.engine.executeAsSystem(input);
      },
    };
    const db = memoryDb();
    const associationsOnNode = async () =>
      (await store.readStream('node-meter-1')).filter((r) => r.type === 'NodeAssociated').map((r) => (r.data as { associationId: string }).associationId);
    await expect(catchUp(store, failingOnce, db)).rejects.toThrow('the disk is gone');
    expect(await associationsOnNode()).toEqual([]);
    await catchUp(store, failingOnce, db);
    expect(await associationsOnNode()).toEqual(['sa-1', 'sa-2']);
    await store.close();
  });
});
