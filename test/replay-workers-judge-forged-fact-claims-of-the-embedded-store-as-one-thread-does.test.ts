import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { partitionOf } from '../projections/replay/partition.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { dataDirs } from './replay.fixtures.ts';
import { cmd, T0 } from './support/fleet.ts';

/**
 * The embedded store writes no fact claim (it checks a decision's facts in its own transaction): two planted in
 * events.db, revisions 1 then 0 of one stream, are each a foreign claim, and the second breaks the stream's order.
 * Workers route a claim to its claimant's partition and to its stream's: the verdict must be one thread's all the
 * same, findings and their order at one position alike, whichever partition holds which.
 */
describe('replay workers judge fact claims planted in the embedded store as one thread does', () => {
  const dataDir = dataDirs('credence-replay-forged-claims-');

  const plantedClaims = async (streamId: string, claimant: string): Promise<string> => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    for (const c of [cmd.createSubscription(), cmd.registerNode()]) await engine.execute(c);
    await store.close();
    const db = new Database(join(dir, 'events.db'));
    const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
    for (const revision of [1, 0]) insert.run(streamId, revision, randomUUID(), FACT_CLAIM_TYPE, JSON.stringify({ claimant, commandId: randomUUID() }), '{}');
    db.close();
    return dir;
  };

  const cases = [
    // No entity's stream (EventStoreDB binds command ids on such streams): order kept all the same on this store.
    { streamId: 'xbind-1', claimant: 'node-meter-1' },
    { streamId: 'xbind-2', claimant: 'node-meter-2' },
    // An entity's stream (no event of it yet), its partition before the claimant's and after it.
    { streamId: 'node-meter-2', claimant: 'node-meter-1' },
    { streamId: 'node-meter-3', claimant: 'node-meter-2' },
  ];

  it('routes each case across two partitions', () => {
    for (const { streamId, claimant } of cases) expect(partitionOf(streamId, 2)).not.toBe(partitionOf(claimant, 2));
  });

  it.each(cases)('claims on $streamId by $claimant: the same findings, in the same order, from one thread and two workers', async ({ streamId, claimant }) => {
    const dir = await plantedClaims(streamId, claimant);
    const store = openSqliteStoreInDir(dir);
    try {
      const one = await replayAll(store);
      const said = (f: { streamId: string; revision: bigint; reason: string }) => [f.streamId, f.revision, f.reason];
      expect((await replayInWorkers(store, { workers: 2 })).replay.findings.map(said)).toEqual(one.findings.map(said));
      expect((await replayInWorkers(store, { workers: 2 })).replay).toEqual(one);
      expect((await replayInWorkers(store, { workers: 2, source: eventsDbRangeSourceInDir(dir) })).replay).toEqual(one);
      expect((await verifyFleet(store, { workers: 2 })).replay).toEqual(one);
      // At one record, the foreign claim, then the stream's order, as the one entity's replay says them too.
      expect(one.findings.map(said)).toEqual([
        [streamId, 1n, expect.stringMatching(/^a fact claim, which this store never writes/)],
        [streamId, 0n, expect.stringMatching(/^a fact claim, which this store never writes/)],
        [streamId, 0n, "revision 0 after revision 1: the stream's order is broken"],
      ]);
      if (!streamId.startsWith('xbind-')) expect(await replayEntity(store, streamId)).toMatchObject({ verdict: { ok: false, findings: one.findings } });
    } finally {
      await store.close();
    }
  }, 60_000);
});
