/**
 * Review 55: a server that accepts the connection but never answers (a stalled node, a proxy) held every call of the
 * EventStoreDB adapter for ever: the 6.x client reads with `deadline: Infinity` and appends only after a
 * server-features call that has no deadline. README promises exit 3 when the event store is "not answering in time".
 * Each call now ends after the connection string's `defaultDeadline` (10 s by default) with a transient, unreachable
 * error naming the server and never the password.
 */
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { isCredenceError } from '../domain/errors.ts';
import { EventStoreDbError, openEventStoreDbStore, type EventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { connectionStringProblems, deadlineOf } from '../adapters/driven/store/eventstoredb/connection-string.ts';
import type { DropNotice } from '../adapters/driven/store/eventstoredb/index.ts';
import type { StalledServer } from './esdb-standin/index.ts';
import { runCli } from './support/cli.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const DEADLINE_MS = 300;
const { startStalledServer, hold } = standInTeardown();
let stalled: StalledServer;
let store: EventStoreDbStore;
const drops: DropNotice[] = [];

beforeEach(async () => {
  stalled = await startStalledServer();
  drops.length = 0;
  store = hold(
    openEventStoreDbStore(`esdb://127.0.0.1:${stalled.port}?tls=false&defaultDeadline=${DEADLINE_MS}`, {
      resubscribe: { initialDelayMs: 5, maxDelayMs: 20 },
      onSubscriptionDropped: (notice) => void drops.push(notice),
    }),
  );
});

/** The call's rejection, and how long it took to come. */
async function failure(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('the call succeeded against a server that never answers');
}

const expectNoAnswer = (error: unknown, ms: number, operation: RegExp): void => {
  expect(error).toBeInstanceOf(EventStoreDbError);
  const e = error as EventStoreDbError;
  expect([e.transient, e.unreachable]).toEqual([true, true]);
  expect(e.message).toMatch(operation);
  expect(e.message).toContain(`127.0.0.1:${stalled.port} did not answer within 300 ms`);
  expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
  expect(ms).toBeLessThan(5_000);
};

describe('an EventStoreDB that accepts the connection and never answers', () => {
  it('ends reads of a stream and of $all after the deadline, as an unreachable server', async () => {
    const read = await failure(() => store.readStream(`node-${randomUUID()}`));
    expectNoAnswer(read.error, read.ms, /read of node-/);
    const head = await failure(() => store.headPosition());
    expectNoAnswer(head.error, head.ms, /backward read of \$all/);
  }, 20_000);

  it('ends an append after the deadline as transient, never as a refusal: its events may have been written', async () => {
    const events = [{ id: randomUUID(), type: 'Enrolled', data: {}, metadata: {} }];
    const append = await failure(() => store.appendToStream(`node-${randomUUID()}`, events, { expectedRevision: ExpectedRevision.any }));
    expectNoAnswer(append.error, append.ms, /append to node-/);
    expect(isCredenceError(append.error)).toBe(false);
    expect((append.error as Error).message).toContain('retry with the same command id');
  }, 20_000);

  it('fails a live subscription that is never confirmed, and resubscribes', async () => {
    const subscription = store.subscribeToAll({ from: { kind: 'start' } });
    const pending = subscription[Symbol.asyncIterator]().next();
    for (let waited = 0; drops.length === 0 && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(drops[0]?.reason).toContain(`127.0.0.1:${stalled.port} did not answer within 300 ms`);
    await subscription.unsubscribe();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
  }, 20_000);

  it('ends the creation of a consumer group after the deadline', async () => {
    const join = await failure(() => store.persistentSubscriptionToAll(`integrator-${randomUUID()}`, () => undefined));
    expectNoAnswer(join.error, join.ms, /creation of consumer group integrator-/);
  }, 20_000);

  it('waits 10 s by default, the connection string’s defaultDeadline when given', () => {
    expect(deadlineOf('esdb://admin:changeit@node1:2113,node2:2114?tls=false')).toEqual({ ms: 10_000, server: 'node1:2113,node2:2114' });
    expect(deadlineOf('esdb://node1:2113?defaultDeadline=2500')).toEqual({ ms: 2_500, server: 'node1:2113' });
  });

  it('refuses a defaultDeadline longer than a timer holds, which would fire after 1 ms and fail every call (review 57)', () => {
    expect(connectionStringProblems('esdb://node1:2113?tls=false&defaultDeadline=2147483647')).toEqual([]);
    expect(connectionStringProblems('esdb://node1:2113?tls=false&defaultDeadline=3000000000')).toEqual(['defaultDeadline must be at most 2147483647 ms (about 24.8 days)']);
    expect(() => openEventStoreDbStore('esdb://node1:2113?tls=false&defaultDeadline=3000000000')).toThrow(/defaultDeadline must be at most 2147483647 ms/);
  });
});

describe('a command on an EventStoreDB that never answers', () => {
  it('exits 3 naming the server, never the password', async () => {
    const password = `pw-${randomUUID()}`;
    const store = `esdb://admin:${password}@127.0.0.1:${stalled.port}?tls=false&defaultDeadline=${DEADLINE_MS}`;
    const { code, err } = await runCli(['replay', '--store', store]);
    expect(err).toMatch(new RegExp(`^error: EventStoreDB .* failed: 127\\.0\\.0\\.1:${stalled.port} did not answer within 300 ms`, 'm'));
    expect(err).toContain('is the event store of --store or CREDENCE_STORE running');
    expect(err).not.toContain(password);
    expect(code).toBe(3);
  }, 30_000);
});
