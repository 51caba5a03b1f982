// Issue 15 item 5: the bookkeeping an association's establishment or end calls for (its credential's, its node's, its
// App-ID's: one command per target) is issued together, so the store commits it in one group (one sync), not one per
// command; a failure of any of them still leaves the event unhandled, and a later run records what is missing.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { ProjectionRunner, readCheckpoint } from '../projections/runtime/index.ts';
import { cmd, establishOne, fixture, footprint } from './support/fleet.ts';

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
});
