/**
 * Review 115, three findings on the EventStoreDB adapter:
 * 1. `throwOnAppendFailure=false` was accepted (and listed as supported): the client then answers a wrong expected
 *    revision as a success, so every conflict check of the store passed and nothing was written. It is refused as a
 *    problem of the connection string, and a refused append answered without a throw is a conflict all the same.
 * 2. A command retried at the revision its own first write left (the caller read the head again after a timeout) was
 *    written twice: the claim binding its id to the stream was found, and the append went on. It is now found as a
 *    repeat, as on the embedded store.
 * 3. A cluster whose gossip never answered (`esdb+discover`) failed with the client's plain Error: a 500, a CLI failure
 *    without its hint. It is `store_unavailable`, reason `unreachable`, transient, as an unreachable node is.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { connectionStringProblems } from '../adapters/driven/store/eventstoredb/connection-string.ts';
import { EventStoreDbError, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { mapError } from '../adapters/http/problems.ts';
import { closedPort } from './support/closed-port.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const event = (): EventToAppend => ({ id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} });

const { startStandIn, hold } = standInTeardown();

describe('throwOnAppendFailure=false', () => {
  it('is a problem of the connection string, and opening a store with it is refused', async () => {
    const standIn = await startStandIn();
    const connectionString = `${standIn.connectionString}&throwOnAppendFailure=false`;
    expect(connectionStringProblems(connectionString)).toEqual([expect.stringContaining('throwOnAppendFailure=false is not supported')]);
    expect(connectionStringProblems(`${standIn.connectionString}&throwOnAppendFailure=true`)).toEqual([]);
    expect(() => openEventStoreDbStore(connectionString)).toThrow(/throwOnAppendFailure=false is not supported/);
  });
});

describe.each(embeddedAndStandInStores())('%s: a command retried at the revision its first write left', (_name, open) => {
  it('is answered as a repeat, and its events are stored once', async () => {
    const s = await open();
    try {
      const stream = `node-${randomUUID()}`;
      const commandId = randomUUID();
      const batch = [event()];
      const first = await s.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.noStream, commandId });
      expect(first.deduplicated).toBe(false);
      const again = await s.appendToStream(stream, batch, { expectedRevision: ExpectedRevision.exact(0n), commandId });
      expect(again).toMatchObject({ nextExpectedRevision: 0n, deduplicated: true });
      expect((await s.readStream(stream)).map((r) => r.id)).toEqual([batch[0]!.id]);
    } finally {
      await s.close();
    }
  });
});

describe('an esdb+discover cluster that never answers', () => {
  it('is store_unavailable, reason unreachable, transient: answered 503 with Retry-After', async () => {
    const port = await closedPort();
    const store = hold(openEventStoreDbStore(`esdb+discover://127.0.0.1:${port}?tls=false&maxDiscoverAttempts=2&discoveryInterval=10`));
    const error = await store.appendToStream(`node-${randomUUID()}`, [event()], { expectedRevision: ExpectedRevision.any }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EventStoreDbError);
    expect([(error as EventStoreDbError).transient, (error as EventStoreDbError).unreachable]).toEqual([true, true]);
    expect(mapError(error)).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'unreachable' }, headers: { 'retry-after': '5' } });
  });
});
