/**
 * Every transient failure of the EventStoreDB adapter reached the service as 503 `store_unavailable` with reason
 * `unreachable`, whatever happened: an operator could not tell a follower answering "not leader" (the leader is
 * elsewhere; the client turns to it) from a call whose own time limit ran out (raise `defaultDeadline`, or look at the
 * server's load) or from a server that cannot be reached (is it running, is the network open). The reason now says
 * which; the status, Retry-After and the CLI's exit code stay as they were, and the detail still names no host.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { EventStoreDbError, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { eventStoreDbFailure } from './support/eventstoredb-failure.ts';
import { mapError } from '../adapters/http/problems.ts';
import { closedPort } from './support/closed-port.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const { startStandIn, hold } = standInTeardown();

const batch = (): EventToAppend[] => [{ id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} }];

const failure = eventStoreDbFailure;

/** The service's answer: always 503 with Retry-After 5 s, only the reason and the detail differ. */
function answered(error: EventStoreDbError, reason: string): string {
  const mapped = mapError(error);
  expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason }, headers: { 'retry-after': '5' } });
  expect(mapped.detail).toContain('retry it with the commandId it was sent with');
  return mapped.detail;
}

describe('an event store that is unavailable for now', () => {
  it('is not_leader when a follower answers "not leader", naming the leader in the error and nothing written', async () => {
    const standIn = await startStandIn({ notLeader: { host: 'esdb-2.internal', port: 2113 } });
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const stream = `node-${randomUUID()}`;
    const error = await failure(() => store.appendToStream(stream, batch(), { expectedRevision: ExpectedRevision.any }));
    const detail = answered(error, 'not_leader');
    expect(detail).toContain("not its cluster's leader");
    expect(detail).not.toContain('esdb-2.internal');
    expect(error.unavailable).toEqual({ reason: 'not_leader', leader: 'esdb-2.internal:2113' });
    expect(error.message).toMatch(new RegExp(`^EventStoreDB append to ${stream} failed: .*not the cluster's leader; the leader is esdb-2\\.internal:2113`));
    // A follower is no unreachable server: the CLI's exit code for it is what it was
    expect([error.transient, error.unreachable]).toEqual([true, false]);
    expect(standIn.log.stream(stream)).toBeUndefined();
  });

  it('is not_leader for a read refused by a follower too', async () => {
    const standIn = await startStandIn({ notLeader: { host: 'esdb-3.internal', port: 2113 } });
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const error = await failure(() => store.readStream(`node-${randomUUID()}`));
    answered(error, 'not_leader');
    expect(error.unavailable).toEqual({ reason: 'not_leader', leader: 'esdb-3.internal:2113' });
  });

  it('is timeout, with the limit in ms, when an append gets no answer within defaultDeadline: it may have been written', async () => {
    const standIn = await startStandIn({ appendReplyDelayMs: (streamId) => (streamId.startsWith('node-') ? 800 : 0) });
    const store = hold(openEventStoreDbStore(`${standIn.connectionString}&defaultDeadline=200`));
    const error = await failure(() => store.appendToStream(`node-${randomUUID()}`, batch(), { expectedRevision: ExpectedRevision.any }));
    const detail = answered(error, 'timeout');
    expect(detail).toContain('did not answer within its time limit of 200 ms');
    expect(detail).toContain('a command sent may have been stored');
    expect(detail).not.toContain('127.0.0.1');
    expect(error.unavailable).toEqual({ reason: 'timeout', limitMs: 200 });
    expect(error.message).toMatch(/did not answer within 200 ms \(defaultDeadline\); the events may have been written: retry with the same command id/);
    expect([error.transient, error.unreachable]).toEqual([true, true]);
  });

  it('is unreachable when no connection can be made, and its detail speaks of no time limit', async () => {
    const port = await closedPort();
    const store = hold(openEventStoreDbStore(`esdb://127.0.0.1:${port}?tls=false`));
    const error = await failure(() => store.readStream(`node-${randomUUID()}`));
    const detail = answered(error, 'unreachable');
    expect(detail).toContain('could not be reached or its connection was lost');
    expect(detail).not.toMatch(/in time|time limit/);
    expect(detail).not.toContain(String(port));
    expect(error.unavailable).toEqual({ reason: 'unreachable' });
    expect([error.transient, error.unreachable]).toEqual([true, true]);
  }, 60_000);

  it('is none of them for an error a retry would not mend', () => {
    const error = new EventStoreDbError('append to node-a: no position returned, and none read back', false);
    expect(error.unavailable).toBeUndefined();
    expect(mapError(error)).toMatchObject({ status: 500, code: 'internal' });
  });
});
