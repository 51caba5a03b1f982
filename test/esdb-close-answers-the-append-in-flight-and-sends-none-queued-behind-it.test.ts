/**
 * Review 115: `close()` of the EventStoreDB store resolved while appends queued on a stream still went to the server
 * afterwards (the client reconnected for them), and they resolved as stored: a caller that closed the store and then
 * read the log saw events appear after close. Now close waits for the append in flight, and one queued behind it is
 * refused as the store being closed, never sent.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventToAppend } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

const { startStandIn, hold } = standInTeardown();

const event = (): EventToAppend => ({ id: randomUUID(), type: 'NodeEnrolled', data: {}, metadata: {} });

describe('closing the EventStoreDB store with appends under way', () => {
  it('answers the one in flight, refuses the one queued behind it, and nothing is written after close resolves', async () => {
    const standIn = await startStandIn({ appendReplyDelayMs: (streamId) => (streamId.startsWith('node-') ? 300 : 0) });
    // Closed by the test itself (what it proves); held so that a failure before that close still closes it.
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const stream = `node-${randomUUID()}`;
    const first = store.appendToStream(stream, [event()], { expectedRevision: ExpectedRevision.any });
    const queued = store.appendToStream(stream, [event()], { expectedRevision: ExpectedRevision.any });
    const outcomes = Promise.allSettled([first, queued]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.close();
    const written = standIn.log.stream(stream)?.length ?? 0;
    const [a, b] = await outcomes;
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    expect(String((b as PromiseRejectedResult).reason)).toContain('the EventStoreDB store is closed');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(written).toBe(1);
    expect(standIn.log.stream(stream)?.length).toBe(1);
  });
});
