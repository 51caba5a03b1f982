import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../adapters/driven/store/index.ts';
import type { Page } from '../adapters/driven/store/sqlite/pages.ts';
import { ExpectedRevision, type AllFilter, type RecordedEvent, type SubscribeOptions } from '../domain/ports/event-store.ts';
import { profile, registrationMetadata } from './http-sse.fixtures.ts';

/*
 * Review 285: a stalled event stream (GET /v1/events, a client that stops reading) held, besides the queue Node keeps
 * for its response, the store subscription's current page: up to 1,000 decoded records (`pageSize`), some 4.5 MB of
 * 4.5 kB events per stream, 438 MB for 64 stalled canonical streams where the docs said about 80 MiB in all. A
 * subscription asked for `pageBytes` now ends each page before the rows' stored data and metadata text would pass
 * that many characters (always at least one record, so it moves on); one not asked keeps its pages as before.
 *
 * Measured, not timed: every page the subscription reads is recorded as the store's page reader returned it.
 */

const EVENTS = 300;
// About 4.5 kB an event, as the largest node profile the service accepts (test/http-sse-backpressure.test.ts).
const CAPABILITIES = Array.from({ length: 64 }, (_, i) => `capability-${String(i).padStart(2, '0')}-${'x'.repeat(48)}`);
const PAGE_BYTES = 256 * 1024;

const payloadOf = (event: RecordedEvent): number => JSON.stringify(event.data).length + JSON.stringify(event.metadata).length;

interface SpiedStore {
  readonly store: SqliteEventStore;
  readonly pages: Page[];
}

/** A store whose subscription pages (its PageReader's reads) are recorded as they are handed to a subscription. */
const spiedStore = (): SpiedStore => {
  const store = new SqliteEventStore(new Database(':memory:'), { durability: 'normal' });
  const pages: Page[] = [];
  const reader = (store as unknown as { pages: { read: (...args: unknown[]) => Page } }).pages;
  const read = reader.read.bind(reader);
  reader.read = (...args: unknown[]): Page => {
    const page = read(...args);
    pages.push(page);
    return page;
  };
  return { store, pages };
};

/** Pulls `count` events from a new subscription, then ends it. */
const pull = async (store: SqliteEventStore, options: SubscribeOptions, count: number): Promise<RecordedEvent[]> => {
  const subscription = store.subscribeToAll(options);
  const out: RecordedEvent[] = [];
  for await (const event of subscription) {
    out.push(event);
    if (out.length === count) break;
  }
  await subscription.unsubscribe();
  return out;
};

describe('a store subscription asked for pages of at most so many bytes', () => {
  let spied: SpiedStore;
  let positions: bigint[];

  beforeAll(async () => {
    spied = spiedStore();
    positions = [];
    for (let i = 0; i < EVENTS; i++) {
      const nodeId = `bulk-${i}`;
      const result = await spied.store.appendToStream(
        `node-${nodeId}`,
        [{ id: randomUUID(), type: 'NodeRegistered', data: { nodeId, profile: profile(CAPABILITIES) }, metadata: registrationMetadata(randomUUID()) }],
        { expectedRevision: ExpectedRevision.noStream },
      );
      positions.push(result.position);
    }
  }, 60_000);
  afterAll(() => spied?.store.close());

  const filters: readonly [string, AllFilter | undefined][] = [
    ['unfiltered', undefined],
    ['by stream prefix', { streamPrefixes: ['node-'] }],
    ['by event type', { eventTypes: ['NodeRegistered'] }],
    ['by stream prefix and event type', { streamPrefixes: ['node-bulk-'], eventTypes: ['NodeRegistered'] }],
  ];

  it.each(filters)('%s: hands out pages of at most that much stored payload, every event once and in order', async (_, filter) => {
    const event = (await spied.store.readStream('node-bulk-0'))[0]!;
    // The fixture is what the review measured with: some 4.5 kB of stored payload an event.
    expect(payloadOf(event)).toBeGreaterThan(4_000);
    expect(payloadOf(event)).toBeLessThan(5_000);
    spied.pages.length = 0;
    const read = await pull(spied.store, { from: { kind: 'start' }, ...(filter !== undefined ? { filter } : {}), pageBytes: PAGE_BYTES }, EVENTS);
    expect(read.map((e) => e.position)).toEqual(positions);
    const pages = spied.pages.filter((page) => page.events.length > 0);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) {
      expect(page.events.reduce((sum, e) => sum + payloadOf(e), 0)).toBeLessThanOrEqual(PAGE_BYTES);
      // 256 KiB of some 4.5 kB events: 57 a page, where the store's page size alone allowed 1,000.
      expect(page.events.length).toBeLessThanOrEqual(58);
    }
  });

  it('keeps its pages by count alone when not asked (projections and the live runtime: their throughput as before)', async () => {
    spied.pages.length = 0;
    await pull(spied.store, { from: { kind: 'start' } }, EVENTS);
    expect(Math.max(...spied.pages.map((p) => p.events.length))).toBe(EVENTS);
  });

  it('hands out a record larger than the budget alone on its page, and goes on past it', async () => {
    spied.pages.length = 0;
    const read = await pull(spied.store, { from: { kind: 'after', position: positions[9]! }, pageBytes: 1 }, 5);
    expect(read.map((e) => e.position)).toEqual(positions.slice(10, 15));
    expect(spied.pages.filter((p) => p.events.length > 0).map((p) => p.events.length)).toEqual([1, 1, 1, 1, 1]);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses pageBytes %s, naming the option', (pageBytes) => {
    expect(() => spied.store.subscribeToAll({ from: { kind: 'start' }, pageBytes })).toThrow(/options\.pageBytes/);
  });
});
