import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { checkpointOf } from '../projections/runtime/batch.ts';
import { setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { checkpointsOfAnotherLog } from '../projections/runtime/index.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 280 #2: versions between dd88db5f and d9e757d7 kept a read model's checkpoint on whatever record it handled
 * last, another application's included. The check of a checkpoint whose record is gone (scavenged) told another
 * application's record from Credence's by an `occurredAt` in its metadata: one of another application's that carries
 * that key was taken for Credence's, and once its stream was scavenged the read model was reset and rebuilt as of
 * another log. Credence's events are told by their ids, all derived (domain/event-ids.ts), which another application's
 * do not share by accident; a Credence event gone from its position is still another log's (review 278).
 */

const { startStandIn, hold } = standInTeardown();

const NAME = 'entities';

/** Another application's record on the shared cluster, its metadata `metadata`; the record as Credence reads it. */
const othersRecord = async (standIn: StandIn, store: EventStoreDbStore, streamId: string, metadata: object): Promise<RecordedEvent> => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    {
      id: randomUUID(),
      type: 'OrderPlaced',
      contentType: 'application/json',
      data: Buffer.from('{"order":1}'),
      customMetadata: Buffer.from(JSON.stringify(metadata)),
    },
  ]);
  if (appended.kind !== 'success' || appended.position === undefined) throw new Error('the foreign record was not appended');
  const record = await store.recordAt(appended.position);
  if (record === undefined) throw new Error('the foreign record is not read back');
  return record;
};

/**
 * A read model whose checkpoint an earlier version left on `at` (then Credence's next event below the head), and what
 * the log check finds of it before and after `scavenged` leaves $all.
 */
const foundBeforeAndAfterScavenge = async (
  metadata: object | undefined,
): Promise<{ checkpointed: RecordedEvent; before: unknown[]; after: unknown[] }> => {
  const standIn = await startStandIn();
  const store = hold(openEventStoreDbStore(standIn.connectionString));
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  const first = await engine.execute(cmd.registerNode('meter-1'));
  const checkpointed =
    metadata === undefined ? (await store.recordAt(first.events.at(-1)!.position))! : await othersRecord(standIn, store, 'orders-1', metadata);
  await engine.execute(cmd.registerNode('meter-2'));
  const db = new Database(':memory:');
  try {
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    writeCheckpoint(db, NAME, checkpointOf(checkpointed));
    const before = await checkpointsOfAnotherLog(db, store, [NAME]);
    standIn.log.scavenge(checkpointed.streamId);
    const after = await checkpointsOfAnotherLog(db, store, [NAME]);
    return { checkpointed, before, after };
  } finally {
    db.close();
  }
};

describe("a read model checkpoint an earlier version left on another application's record", () => {
  it('without an occurredAt: is not another log, before its stream is scavenged or after', async () => {
    const { checkpointed, before, after } = await foundBeforeAndAfterScavenge({});
    expect(checkpointOf(checkpointed).occurredAt).toBe('');
    expect(before).toEqual([]);
    expect(after).toEqual([]);
  });

  it('with an occurredAt in its metadata: is not another log either, before its stream is scavenged or after', async () => {
    const { checkpointed, before, after } = await foundBeforeAndAfterScavenge({ occurredAt: '2026-12-01T00:00:00.000Z' });
    expect(checkpointOf(checkpointed).occurredAt).toBe('2026-12-01T00:00:00.000Z');
    expect(before).toEqual([]);
    expect(after).toEqual([]);
  });

  it("on Credence's own event: its record gone from below the head is another log's (review 278)", async () => {
    const { before, after } = await foundBeforeAndAfterScavenge(undefined);
    expect(before).toEqual([]);
    expect(after).toEqual([expect.objectContaining({ name: NAME, reason: 'no-event' })]);
  });
});
