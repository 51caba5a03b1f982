import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteEventStore } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { appendRegisteredNodes } from './http-sse.fixtures.ts';

/*
 * Found in review: a page of a stream-prefix filter walks the log in position order until it has a page of matches
 * or reaches the head, in one synchronous statement. A sparse prefix (`association-` in a log of node events) read
 * the whole log in one go at every stream's open: 136 ms at 400,000 events, the event loop held. A page now examines
 * at most `prefixScanWindow` positions; readAll and subscriptions go on past a window with no match (a subscription
 * after a turn of the event loop), and find every match exactly once, in order.
 */

const NODES = 1_000;
const WINDOW = 100;

const appendSubscription = async (store: SqliteEventStore, id: string): Promise<bigint> => {
  const commandId = randomUUID();
  const result = await store.appendToStream(
    `subscription-${id}`,
    [
      {
        id: randomUUID(),
        type: 'SubscriptionCreated',
        data: { subscriptionId: id },
        metadata: { commandId, commandType: 'createSubscription', occurredAt: new Date().toISOString() },
      },
    ],
    { expectedRevision: ExpectedRevision.noStream },
  );
  return result.position;
};

describe('a sparse stream-prefix filter over a long log', () => {
  let store: SqliteEventStore;
  const matches: bigint[] = [];
  beforeAll(async () => {
    store = openSqliteStore({ memory: true, durability: 'normal', prefixScanWindow: WINDOW });
    matches.push(await appendSubscription(store, 'first'));
    await appendRegisteredNodes(store, 'quiet', NODES);
    matches.push(await appendSubscription(store, 'last'));
  }, 60_000);
  afterAll(() => store.close());

  it('reads every match once, in order, across windows with none', async () => {
    const read: bigint[] = [];
    for await (const record of store.readAll({ filter: { streamPrefixes: ['subscription-'] } })) read.push(record.position);
    expect(read).toEqual(matches);
  });

  it('subscribed, catches up across those windows, letting the event loop turn between them, then goes live', async () => {
    let turns = 0;
    let running = true;
    const turn = (): void => {
      turns += 1;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: ['subscription-'] } });
    const iterator = subscription[Symbol.asyncIterator]();
    try {
      const seen: bigint[] = [];
      for (const _ of matches) seen.push((await iterator.next()).value!.position);
      expect(seen).toEqual(matches);
      // Some ten windows of 100 positions held no match between the two: a turn for each, not one statement.
      expect(turns).toBeGreaterThanOrEqual(Math.floor(NODES / WINDOW) - 1);
      const live = await appendSubscription(store, 'live');
      expect((await iterator.next()).value!.position).toBe(live);
    } finally {
      running = false;
      await subscription.unsubscribe();
    }
  });
});
