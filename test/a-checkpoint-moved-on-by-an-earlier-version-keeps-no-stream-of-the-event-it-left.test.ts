import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../domain/ports/event-store.ts';
import { readCheckpoint, setupCheckpoints, writeCheckpoint } from '../projections/runtime/checkpoints.ts';
import { checkpointsOfAnotherLog } from '../projections/runtime/index.ts';

/*
 * Review 291 L: an earlier Credence run on a read-model file this version wrote (a downgrade) moves a checkpoint on with
 * the statement it knows, which sets position, occurred_at and event_id and leaves stream_id as this version wrote it.
 * Upgraded again, the checkpoint paired one record's id with another record's stream, and on EventStoreDB log-check.ts
 * told an application's record from Credence's own by that stream. The stream is now kept bound to the event it is the
 * stream of, and read only while the checkpoint still names that event; otherwise the row is judged as an old one.
 */

const NAME = 'entities';

/** The statement of the versions before checkpoints kept a stream (f2dcb009 .. c341c87c). */
const EARLIER_VERSIONS_WRITE = `INSERT INTO projection_checkpoints (name, position, occurred_at, event_id) VALUES (?, ?, ?, ?)
  ON CONFLICT(name) DO UPDATE SET position = excluded.position, occurred_at = excluded.occurred_at, event_id = excluded.event_id
  WHERE excluded.position > projection_checkpoints.position`;

/** A store on which nothing is at any position below its head (a record scavenged from a shared cluster). */
const storeWithNothingAt = (head: bigint): EventStore =>
  ({ gapless: false, recordAt: async () => undefined, headPosition: async () => head }) as unknown as EventStore;

let db: Database.Database;
beforeEach(() => {
  db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupCheckpoints(db);
});
afterEach(() => db.close());

describe('a checkpoint this version wrote, moved on by an earlier version', () => {
  it('reads back without a stream: the one kept is the stream of the event it left', () => {
    writeCheckpoint(db, NAME, { position: 10n, occurredAt: '2026-12-01T00:00:00.000Z', eventId: 'event-1', streamId: 'node-meter-1' });
    expect(readCheckpoint(db, NAME)).toEqual({ position: 10n, occurredAt: '2026-12-01T00:00:00.000Z', eventId: 'event-1', streamId: 'node-meter-1' });

    db.prepare(EARLIER_VERSIONS_WRITE).run(NAME, 20n, '2026-12-02T00:00:00.000Z', 'event-2');

    const read = readCheckpoint(db, NAME);
    expect(read).toEqual({ position: 20n, occurredAt: '2026-12-02T00:00:00.000Z', eventId: 'event-2' });
    expect(read).not.toHaveProperty('streamId');
  });

  it("on another application's record (versions dd88db5f to d9e757d7 kept one), is judged by its id and occurredAt, not by the stale stream of Credence's", async () => {
    writeCheckpoint(db, NAME, { position: 10n, occurredAt: '2026-12-01T00:00:00.000Z', eventId: randomUUID(), streamId: 'node-meter-1' });
    // An application's record: a random id, no occurredAt; gone from below the head once its stream is scavenged.
    db.prepare(EARLIER_VERSIONS_WRITE).run(NAME, 4096n, '', randomUUID());

    expect(await checkpointsOfAnotherLog(db, storeWithNothingAt(1_000_000n), [NAME])).toEqual([]);
  });

  it('moved on by this version again, keeps the stream of its new event', () => {
    writeCheckpoint(db, NAME, { position: 10n, occurredAt: 'a', eventId: 'event-1', streamId: 'node-meter-1' });
    db.prepare(EARLIER_VERSIONS_WRITE).run(NAME, 20n, 'b', 'event-2');
    writeCheckpoint(db, NAME, { position: 30n, occurredAt: '', eventId: 'claim-3', streamId: 'credence-command-c3' });
    expect(readCheckpoint(db, NAME)).toEqual({ position: 30n, occurredAt: '', eventId: 'claim-3', streamId: 'credence-command-c3' });
  });

  it('a stream with spaces in it is read back whole', () => {
    writeCheckpoint(db, NAME, { position: 10n, occurredAt: '', eventId: 'event-1', streamId: 'orders of shop 1' });
    expect(readCheckpoint(db, NAME)).toMatchObject({ eventId: 'event-1', streamId: 'orders of shop 1' });
  });
});
