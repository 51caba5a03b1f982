import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { CheckpointFile, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { eventsDbRangeSourceInDir } from '../adapters/driven/store/sqlite/events-db-reader.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { ExpectedRevision, type EventStore, type RecordedEvent } from '../domain/ports/event-store.ts';
import { replayAll, replayEntity, type FleetReplay } from '../projections/replay/index.ts';
import { dataDirs } from './replay.fixtures.ts';
import { cmd, T0 } from './support/fleet.ts';

/*
 * Review 420, finding 2: a command id used again was flagged only when it came straight after its first use on the same
 * stream (the verifier and the one entity's replay compared the stream's last command id alone). meter-1 enrolled in
 * sub-1 (command c2), then moved to sub-2 (c3); a copy of the c2 enrolment appended to node-meter-1 (same data and
 * metadata, a new event id) and a NodeEnrolled of meter-2 under the same c2 metadata passed the fleet replay, the
 * workers and both entities' replays. The engine can write neither: a command id is bound to one append, store-wide.
 */

const RULE = 'its command was recorded by an earlier append: a command is recorded once';

/** The reproduction: returns the genuine c2 enrolment and the positions of its two copies. */
const enrolledTwiceUnderOneCommand = async (store: EventStore) => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription('sub-1'), cmd.createSubscription('sub-2'), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1', 'sub-1')]) {
    await engine.execute(c);
  }
  const c2 = (await store.readStream('node-meter-1')).at(-1)!;
  for (const c of [cmd.enrolNode('meter-1', 'sub-2'), cmd.registerNode('meter-2')]) await engine.execute(c);
  return { c2, copies: async () => copiesOf(store, c2) };
};

const appendAfterLast = async (store: EventStore, streamId: string, event: Pick<RecordedEvent, 'type' | 'data' | 'metadata'>) => {
  const last = (await store.readStream(streamId)).at(-1);
  return (await store.appendToStream(streamId, [{ id: randomUUID(), ...event }], { expectedRevision: ExpectedRevision.after(last?.revision) })).position;
};

const copiesOf = async (store: EventStore, c2: RecordedEvent) => {
  const again = await appendAfterLast(store, 'node-meter-1', { type: c2.type, data: c2.data, metadata: c2.metadata });
  const other = await appendAfterLast(store, 'node-meter-2', {
    type: 'NodeEnrolled', data: { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: '/cse-meter-2' }, metadata: c2.metadata,
  });
  return { again, other };
};

/** Every form of the fleet replay, which must agree. */
const everyForm = async (store: EventStore, dir: string): Promise<FleetReplay> => {
  const single = await replayAll(store);
  for (const workers of [2, 3]) {
    expect((await replayInWorkers(store, { workers, source: eventsDbRangeSourceInDir(dir) })).replay, `${workers} workers reading the file`).toEqual(single);
    expect((await replayInWorkers(store, { workers })).replay, `${workers} workers fed records`).toEqual(single);
  }
  return single;
};

describe('replay flags a command id used again anywhere in the store', () => {
  const dataDir = dataDirs('credence-replay-command-again-');

  it('on its own stream after another command (fleet and entity replays), and on another stream (fleet replay, one thread and workers)', async () => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const { copies } = await enrolledTwiceUnderOneCommand(store);
      expect(await everyForm(store, dir)).toMatchObject({ findings: [] });
      const { again, other } = await copies();

      const verdict = await everyForm(store, dir);
      expect(verdict.findings.map((f) => [f.streamId, f.position, f.reason])).toEqual([
        ['node-meter-1', again, RULE],
        ['node-meter-2', other, RULE],
      ]);
      // Not applied: meter-2 stays as registered (initialized), meter-1 enrolled (in sub-2).
      expect(verdict.kinds.node.states).toEqual({ enrolled: 1, initialized: 1 });

      const meter1 = await replayEntity(store, 'node-meter-1');
      expect(meter1.verdict).toEqual({ ok: false, findings: [expect.objectContaining({ streamId: 'node-meter-1', position: again, reason: RULE })] });
      // One entity's replay reads its own stream (and the facts its events read), not every stream's command ids: a use
      // on another stream is the fleet's finding above, not meter-2's own replay's.
      const meter2 = await replayEntity(store, 'node-meter-2');
      expect(meter2.verdict).toEqual({ ok: true });
    } finally {
      await store.close();
    }
  }, 120_000);

  it.each([1, 2])('after a checkpoint written by %i thread(s): the incremental run flags both, and an earlier format is not gone on from', async (workers) => {
    const dir = dataDir();
    const store = openSqliteStoreInDir(dir);
    try {
      const { copies } = await enrolledTwiceUnderOneCommand(store);
      const checkpoint = new CheckpointFile(dir);
      expect(await verifyFleet(store, { checkpoint, workers })).toMatchObject({ mode: 'full', replay: { findings: [] } });
      const saved = readCheckpointFileJson(checkpoint.path) as Record<string, unknown>;
      const { again, other } = await copies();

      const incremental = await verifyFleet(store, { checkpoint });
      expect(incremental.mode).toBe('incremental');
      expect(incremental.replay.findings.map((f) => [f.streamId, f.position, f.reason])).toEqual([
        ['node-meter-1', again, RULE],
        ['node-meter-2', other, RULE],
      ]);
      expect(incremental.replay).toEqual(await replayAll(store));

      // A checkpoint of the earlier format keeps no command ids: verified in full, never gone on from.
      const earlier: Record<string, unknown> = { ...saved, format: 1 };
      delete earlier['commandIds'];
      writeFileSync(checkpoint.path, JSON.stringify(earlier));
      const after = await verifyFleet(store, { checkpoint });
      expect(after.mode).toBe('full');
      expect(after.notes[0]).toMatch(/checkpoint ignored: .*format/);
      expect(after.replay).toEqual(await replayAll(store));
    } finally {
      await store.close();
    }
  }, 120_000);
});
