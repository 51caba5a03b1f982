/**
 * Review 55: an append whose answer does not come in time has an unknown outcome: the server may have written it.
 * It fails as transient (never as a refusal, which would say nothing was written), and the retry with the same
 * command id is answered with the first write, deduplicated, the events stored once.
 */
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { EventStoreDbError, openEventStoreDbStore, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const LATE_MS = 800;
const { startStandIn, hold } = standInTeardown();
let standIn: StandIn;
let store: EventStoreDbStore;

beforeEach(async () => {
  // The entity stream's append is written at once and answered late; every other call is answered at once
  standIn = await startStandIn({ appendReplyDelayMs: (streamId) => (streamId.startsWith('node-') ? LATE_MS : 0) });
  store = hold(openEventStoreDbStore(`${standIn.connectionString}&defaultDeadline=200`));
});

describe('an append answered after the deadline', () => {
  it('fails as transient, and its retry with the same command id is answered with the first write', async () => {
    const stream = `node-${randomUUID()}`;
    const batch: EventToAppend[] = [{ id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} }];
    const options = { expectedRevision: ExpectedRevision.noStream, commandId: randomUUID() };

    const error = await store.appendToStream(stream, batch, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect(isCredenceError(error)).toBe(false);
    expect([(error as EventStoreDbError).transient, (error as EventStoreDbError).unreachable]).toEqual([true, true]);
    // What the operator is told: the outcome is unknown, and how to settle it
    expect((error as Error).message).toMatch(/did not answer within 200 ms .*the events may have been written: retry with the same command id/);
    expect(standIn.log.stream(stream)?.map((e) => e.id)).toEqual([batch[0]!.id]);

    const retry = await store.appendToStream(stream, batch, options);
    const stored = await store.readStream(stream);
    expect(stored.map((e) => e.id)).toEqual([batch[0]!.id]);
    expect(retry).toEqual({ nextExpectedRevision: 0n, position: stored[0]!.position, deduplicated: true });
  });
});
