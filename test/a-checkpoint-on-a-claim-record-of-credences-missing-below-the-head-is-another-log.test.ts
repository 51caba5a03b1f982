import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { COMMAND_CLAIM_PREFIX } from '../domain/own-record.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { checkpointOf } from '../projections/runtime/batch.ts';
import { readCheckpoint, setupCheckpoints, writeCheckpoint, type Checkpoint } from '../projections/runtime/checkpoints.ts';
import { checkpointsOfAnotherLog } from '../projections/runtime/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Found by the clean-clone CI: on EventStoreDB a read model's checkpoint may sit on one of Credence's own fact-claim
 * records (a command id's claim in `credence-command-<id>`, a fact's claim in an entity's stream), whose id is random
 * (version 4) and whose metadata holds no `occurredAt`. Told only by id and `occurredAt`, such a record was taken for
 * another application's, and its absence below the head excused: a folder started on another fleet's cluster kept
 * that read model and resumed inside the other log. The checkpoint now keeps the record's stream, and the stream says.
 */

const { startStandIn, hold } = standInTeardown();

const NAME = 'entities';

/** A store on which nothing is at any position below its head, as on another fleet's cluster (or a scavenged stream). */
const storeWithNothingAt = (head: bigint): EventStore =>
  ({ gapless: false, recordAt: async () => undefined, headPosition: async () => head }) as unknown as EventStore;

const foundOn = async (store: EventStore, checkpoint: Checkpoint): Promise<unknown[]> => {
  const db = new Database(':memory:');
  try {
    db.defaultSafeIntegers(true);
    setupCheckpoints(db);
    writeCheckpoint(db, NAME, checkpoint);
    return await checkpointsOfAnotherLog(db, store, [NAME]);
  } finally {
    db.close();
  }
};

/** A checkpoint on a claim-like record: random id, no `occurredAt`, in `streamId` (or none kept, as before). */
const onClaimLike = (streamId: string | undefined): Checkpoint => ({
  position: 4096n,
  occurredAt: '',
  eventId: randomUUID(),
  ...(streamId === undefined ? {} : { streamId }),
});

describe("a read model checkpoint on one of Credence's claim records", () => {
  it("on EventStoreDB keeps the claim record's stream, and with the record gone from below the head is another log's", async () => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.registerNode('meter-1'));
    const claim = standIn.log.all.findLast((e) => e.streamId.startsWith(COMMAND_CLAIM_PREFIX));
    if (claim === undefined) throw new Error('the command left no claim record');
    const record = (await store.recordAt(claim.position))!;
    await engine.execute(cmd.registerNode('meter-2'));

    const checkpoint = checkpointOf(record);
    expect(checkpoint).toMatchObject({ occurredAt: '', eventId: record.id, streamId: claim.streamId });
    expect(await foundOn(store, checkpoint)).toEqual([]);
    standIn.log.scavenge(claim.streamId);
    expect(await foundOn(store, checkpoint)).toEqual([expect.objectContaining({ name: NAME, reason: 'no-event', position: claim.position })]);
  });

  it.each([
    ['a command id claim', `${COMMAND_CLAIM_PREFIX}${randomUUID()}`],
    ["a fact's claim in an entity stream", 'node-meter-1'],
  ])('%s missing below the head: another log (no-event)', async (_, streamId) => {
    expect(await foundOn(storeWithNothingAt(1_000_000n), onClaimLike(streamId))).toEqual([expect.objectContaining({ name: NAME, reason: 'no-event' })]);
  });

  it("another application's record missing below the head is still excused (scavenged on a shared cluster)", async () => {
    expect(await foundOn(storeWithNothingAt(1_000_000n), onClaimLike('orders-1'))).toEqual([]);
  });

  it('a checkpoint written before streams were kept is told as before: by its id and occurredAt', async () => {
    expect(await foundOn(storeWithNothingAt(1_000_000n), onClaimLike(undefined))).toEqual([]);
  });
});

describe('a read-model file from before checkpoints kept the stream', () => {
  it("is read as it is (a status beside an earlier version's service), then gains the column; its rows read without a stream until their next batch writes one", () => {
    const db = new Database(':memory:');
    try {
      db.defaultSafeIntegers(true);
      db.exec(`CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, occurred_at TEXT NOT NULL, event_id TEXT)`);
      db.prepare('INSERT INTO projection_checkpoints VALUES (?, ?, ?, ?)').run(NAME, 10n, '2026-12-01T00:00:00.000Z', 'an-id');
      const before = { position: 10n, occurredAt: '2026-12-01T00:00:00.000Z', eventId: 'an-id' };
      expect(readCheckpoint(db, NAME)).toEqual(before);
      setupCheckpoints(db);
      setupCheckpoints(db);
      expect(readCheckpoint(db, NAME)).toEqual(before);
      writeCheckpoint(db, NAME, { position: 11n, occurredAt: '', eventId: 'claim-id', streamId: 'credence-command-c1' });
      expect(readCheckpoint(db, NAME)).toEqual({ position: 11n, occurredAt: '', eventId: 'claim-id', streamId: 'credence-command-c1' });
    } finally {
      db.close();
    }
  });
});
