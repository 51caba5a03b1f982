// Issue 15 item 5: the first pseudonym of each node registered in a batch is a reaction left in flight
// (Projection.react's ReactionInFlight): the runner goes on to the next event and settles them all before the
// batch's checkpoint, so they share group commits instead of one sync each. A node's association rotation still
// waits for its first pseudonym, and what is committed when one of them fails is what one at a time left.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner, readCheckpoint } from '../projections/runtime/index.ts';
import { cmd, fixture } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';

const memoryDb = () => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

const rotationsIn = async (store: SqliteEventStore) => {
  const rotations: { nodeId: string; epoch: number; trigger: string }[] = [];
  for await (const r of store.readAll()) {
    if (r.type === 'PseudonymRotated') {
      const { nodeId, epoch, trigger } = r.data as { nodeId: string; epoch: number; trigger: string };
      rotations.push({ nodeId, epoch, trigger });
    }
  }
  return rotations.sort((a, b) => a.nodeId.localeCompare(b.nodeId) || a.epoch - b.epoch);
};

const registered = async (nodes: number) => {
  const store = openSqliteStore({ memory: true });
  const f = fixture(store);
  for (let n = 1; n <= nodes; n++) await f.engine.execute(cmd.registerNode(`meter-${n}`));
  return { store, f };
};

const catchUp = (store: SqliteEventStore, sink: CommandSink, db: Database.Database, onAssociation = false) =>
  new ProjectionRunner({
    db,
    store,
    projections: [pseudonymRotation({ engine: sink, deriver: new PseudonymDeriver(testKey), policy: { default: { onAssociation } } })],
  }).catchUp();

describe('the first pseudonyms of a batch of registrations', () => {
  it('are recorded in fewer group commits than nodes, each node once at epoch 0', async () => {
    const { store, f } = await registered(40);
    const groups = store.groupStats.groups;
    const db = memoryDb();
    await catchUp(store, f.engine, db);
    const rotations = await rotationsIn(store);
    expect(rotations).toHaveLength(40);
    expect(rotations.every((r) => r.epoch === 0 && r.trigger === 'initial')).toBe(true);
    // One at a time, each was a group of its own: 40.
    expect(store.groupStats.groups - groups).toBeLessThan(10);
    expect(readCheckpoint(db, 'pseudonyms')?.position).toBe(await store.headPosition());
    await store.close();
  });

  it("let a node's association rotation wait for its first pseudonym, whichever is decided first", async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation()]) {
      await f.engine.execute(c);
    }
    // The first pseudonym's command held back: an association rotation not waiting for it would take epoch 0.
    const slowFirst: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        const data = (input as { data?: { trigger?: string } }).data;
        if (data?.trigger === 'initial') await new Promise((resolve) => setTimeout(resolve, 30));
        return f.engine.executeAsSystem(input);
      },
    };
    await catchUp(store, slowFirst, memoryDb(), true);
    expect(await rotationsIn(store)).toEqual([
      { nodeId: 'meter-1', epoch: 0, trigger: 'initial' },
      { nodeId: 'meter-1', epoch: 1, trigger: 'association' },
    ]);
    await store.close();
  });

  it('leave the events before a failed one committed with their checkpoint, and the failure surfaced', async () => {
    const { store, f } = await registered(12);
    const records = [];
    for await (const r of store.readAll()) records.push(r);
    const failing: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        if ((input as { data?: { nodeId?: string } }).data?.nodeId === 'meter-8') throw new Error('the disk is gone');
        return f.engine.executeAsSystem(input);
      },
    };
    const db = memoryDb();
    await expect(catchUp(store, failing, db)).rejects.toThrow('the disk is gone');
    // meter-8 registered seventh-from-zero: the checkpoint is the registration before it, and the directory holds
    // exactly the nodes before it (rolled back past it, though later nodes' rotations were recorded meanwhile).
    expect(readCheckpoint(db, 'pseudonyms')?.position).toBe(records[6]!.position);
    const listed = db.prepare('SELECT node_id FROM pseudonym_nodes ORDER BY node_id').pluck().all();
    expect(listed).toEqual(['meter-1', 'meter-2', 'meter-3', 'meter-4', 'meter-5', 'meter-6', 'meter-7']);
    // Run again without the failure: every node has its one first pseudonym, none twice.
    await catchUp(store, f.engine, db);
    const rotations = await rotationsIn(store);
    expect(rotations.map((r) => r.nodeId)).toHaveLength(12);
    expect(new Set(rotations.map((r) => r.nodeId)).size).toBe(12);
    await store.close();
  });

  it("fail the node's association rotation with them, so that it never takes epoch 0", async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential(), cmd.provisionCredential(), cmd.configureAssociation()]) {
      await f.engine.execute(c);
    }
    let failures = 1;
    const failingOnce: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        if ((input as { data?: { trigger?: string } }).data?.trigger === 'initial' && failures-- > 0) throw new Error('the disk is gone');
        return f.engine.executeAsSystem(input);
      },
    };
    const db = memoryDb();
    await expect(catchUp(store, failingOnce, db, true)).rejects.toThrow('the disk is gone');
    await catchUp(store, failingOnce, db, true);
    expect(await rotationsIn(store)).toEqual([
      { nodeId: 'meter-1', epoch: 0, trigger: 'initial' },
      { nodeId: 'meter-1', epoch: 1, trigger: 'association' },
    ]);
    await store.close();
  });

  it('are tried again by the same projection once one failed, and every later node gets its own', async () => {
    const { store, f } = await registered(3);
    let failures = 1;
    const failingOnce: CommandSink = {
      ...f.engine,
      executeAsSystem: async (input) => {
        if ((input as { data?: { nodeId?: string } }).data?.nodeId === 'meter-2' && failures-- > 0) throw new Error('the disk is gone');
        return f.engine.executeAsSystem(input);
      },
    };
    const runner = new ProjectionRunner({
      db: memoryDb(),
      store,
      projections: [pseudonymRotation({ engine: failingOnce, deriver: new PseudonymDeriver(testKey), policy: { default: { onAssociation: false } } })],
    });
    await expect(runner.catchUp()).rejects.toThrow('the disk is gone');
    await runner.catchUp();
    await f.engine.execute(cmd.registerNode('meter-4'));
    await runner.catchUp();
    expect((await rotationsIn(store)).map((r) => `${r.nodeId}@${r.epoch}`)).toEqual(['meter-1@0', 'meter-2@0', 'meter-3@0', 'meter-4@0']);
    await store.close();
  });
});
