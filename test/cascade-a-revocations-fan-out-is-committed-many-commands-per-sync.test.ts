// Review 443: a node revoked with thousands of credentials had the cascade issue them one command at a time, each
// waiting for its own durable commit, inside the transaction that holds readmodels.db's write lock: every other read
// model (pki, audit, expiry, compliance) stood still for as long (about 70 s for 10,000; OCSP said tryLater for every
// certificate of the CA). The reactions of one event are issued together now, bounded, so the store's group commit
// syncs many per commit; each dependent is still revoked exactly once, a failure still surfaces with nothing left
// running, and a rerun of the event (a crash before its checkpoint) writes nothing.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { command } from '../domain/commands/index.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { cascadeProcessManager, reactionsAtOnceFor } from '../projections/cascade/index.ts';
import { ProjectionRunner, readCheckpoint } from '../projections/runtime/index.ts';
import { cmd, fixture, footprint, operator, type Fixture } from './support/fleet.ts';

const CREDENTIALS = 2000;

/** The engine as the cascade sees it, counting its commands and the most of them decided at once. */
const counting = (engine: CommandSink, failAt?: number) => {
  const stats = { issued: 0, inFlight: 0, maxInFlight: 0 };
  const sink: CommandSink = {
    ...engine,
    clock: engine.clock,
    view: (kind, id) => engine.view(kind, id),
    ...(engine.recorded !== undefined ? { recorded: engine.recorded.bind(engine) } : {}),
    executeAsSystem: async (input) => {
      stats.issued++;
      if (failAt !== undefined && stats.issued === failAt) throw new Error('the disk is gone');
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        return await engine.executeAsSystem(input);
      } finally {
        stats.inFlight--;
      }
    },
  };
  return { sink, stats };
};

const revokedPerStream = async (store: SqliteEventStore): Promise<Map<string, number>> => {
  const counts = new Map<string, number>();
  for await (const r of store.readAll()) if (r.type === 'CredentialRevoked') counts.set(r.streamId, (counts.get(r.streamId) ?? 0) + 1);
  return counts;
};

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A data folder's store holding meter-1 with CREDENTIALS credentials, the cascade's read model (a file) caught up on them. */
const nodeWithManyCredentials = async (credentials = CREDENTIALS): Promise<{ f: Fixture; store: SqliteEventStore; db: Database.Database }> => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-cascade-fan-out-'));
  dirs.push(dir);
  const store = openSqliteStoreInDir(join(dir, 'data'));
  const f = fixture(store);
  for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await f.engine.execute(c);
  // Issued together (distinct credentials), so that setting up does not take a sync per credential.
  for (let from = 1; from <= credentials; from += 250) {
    const chunk = Array.from({ length: Math.min(250, credentials - from + 1) }, (_, k) => from + k);
    await Promise.all(chunk.map((n) => f.engine.execute(cmd.issueCredential(`c-${n}`, 'meter-1'))));
  }
  const db = new Database(join(dir, 'readmodels-test.db'));
  db.defaultSafeIntegers(true);
  await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(f.engine)] }).catchUp();
  return { f, store, db };
};

const revokeNode = (f: Fixture) => f.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'cessationOfOperation' }, { actor: operator }));

describe("a revocation's fan-out", () => {
  it('is committed many commands per sync, each dependent revoked once, and a rerun of its event writes nothing', async () => {
    const { f, store, db } = await nodeWithManyCredentials();
    await revokeNode(f);
    // The read model as a crash before the event's checkpoint leaves it: the reaction is run again over it below.
    const beforeTheCascade = new Database(db.serialize());
    beforeTheCascade.defaultSafeIntegers(true);

    const { sink, stats } = counting(f.engine);
    const groups = store.groupStats.groups;
    await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(sink)] }).catchUp();
    const committed = store.groupStats.groups - groups;

    expect(stats.issued).toBe(CREDENTIALS);
    // One command at a time, each was a commit of its own: CREDENTIALS of them.
    expect(stats.maxInFlight).toBeGreaterThan(1);
    expect(committed).toBeLessThan(CREDENTIALS / 10);
    const revoked = await revokedPerStream(store);
    expect(revoked.size).toBe(CREDENTIALS);
    expect([...revoked.values()].every((n) => n === 1)).toBe(true);
    expect(readCheckpoint(db, 'cascade')?.position).toBe(await store.headPosition());

    // Run again from before the event (its commands are in the store, its checkpoint is not): nothing new.
    const before = await footprint(store);
    await new ProjectionRunner({ db: beforeTheCascade, store, projections: [cascadeProcessManager(f.engine)] }).catchUp();
    expect(await footprint(store)).toEqual(before);
    expect(readCheckpoint(beforeTheCascade, 'cascade')?.position).toBe(await store.headPosition());
    beforeTheCascade.close();
    db.close();
    await store.close();
  }, 180_000);

  it('surfaces a failure midway with none of its commands left running, and the run after it revokes each one left, once', async () => {
    const { f, store, db } = await nodeWithManyCredentials();
    const revocation = await revokeNode(f);
    const { sink, stats } = counting(f.engine, 700);
    await expect(new ProjectionRunner({ db, store, projections: [cascadeProcessManager(sink)] }).catchUp()).rejects.toThrow('the disk is gone');
    // Everything the reaction started had settled when it failed: nothing still runs behind the runner's back.
    expect(stats.inFlight).toBe(0);
    const issuedThen = stats.issued;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stats.issued).toBe(issuedThen);
    expect((readCheckpoint(db, 'cascade')?.position ?? 0n) < revocation.events[0]!.position).toBe(true);

    await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(f.engine)] }).catchUp();
    const revoked = await revokedPerStream(store);
    expect(revoked.size).toBe(CREDENTIALS);
    expect([...revoked.values()].every((n) => n === 1)).toBe(true);
    expect(readCheckpoint(db, 'cascade')?.position).toBe(await store.headPosition());
    db.close();
    await store.close();
  }, 180_000);

  it('is decided one command at a time on a store that claims the facts its decisions read (EventStoreDB)', async () => {
    // There each decision reading one shared entity appends a claim at its stream's head: a wave raced for it (review 450).
    expect(reactionsAtOnceFor({})).toBe(1);
    expect(reactionsAtOnceFor({ factChecksWriteNothing: true })).toBeGreaterThan(1);
    const { f, store, db } = await nodeWithManyCredentials(40);
    await revokeNode(f);
    const { sink, stats } = counting(f.engine);
    await new ProjectionRunner({ db, store, projections: [cascadeProcessManager(sink, () => {}, { reactionsAtOnce: reactionsAtOnceFor({}) })] }).catchUp();
    expect(stats.issued).toBe(40);
    expect(stats.maxInFlight).toBe(1);
    const revoked = await revokedPerStream(store);
    expect(revoked.size).toBe(40);
    db.close();
    await store.close();
  }, 180_000);
});
