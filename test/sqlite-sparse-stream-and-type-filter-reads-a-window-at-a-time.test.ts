import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../adapters/driven/store/index.ts';
import { ExpectedRevision, type AllFilter, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { compileFilter, parseLifecycleFilter } from '../projections/streams/filter.ts';
import { profile, registrationMetadata } from './http-sse.fixtures.ts';

/*
 * Found in review (SER-001): `GET /v1/events?stream=<100 ids>&type=NodeRegistered` sends both the stream ids (as
 * prefixes) and the type to the store, and a page with types was never windowed: its statement walked every index
 * entry of NodeRegistered from the cursor to the head looking for a page of matches, each entry tried against 100
 * GLOBs. Over 200,000 NodeRegistered events of other streams that was one synchronous statement of up to 1,025 ms,
 * linear in the log. A page with stream prefixes now makes at most `prefixScanWindow` prefix checks, types or not
 * (its positions divided among the prefixes), and the reads still return every match once, in order, as an
 * unfiltered read filtered in JavaScript does.
 *
 * What a statement examined is measured, not timed: every page statement's parameters are recorded, and the index
 * entries of the filter's types between its @after and @head (the only ones its walk can visit) are counted.
 */

// 50 positions a page for the 100 stream ids: some 80 windows over the log.
const WINDOW = 5_000;
const FILLER_STREAMS = 100;
const FILLER_EVENTS_PER_STREAM = 40;
const WANTED = Array.from({ length: 100 }, (_, i) => `node-wanted-${i}`);

interface PageCall {
  readonly sql: string;
  readonly params: { readonly after: bigint; readonly head: bigint; readonly limit: number };
}

/** A connection whose page statements (pages.ts: the ones bounded by @head) record what they were given. */
const spiedDatabase = (calls: PageCall[]): Database.Database => {
  const db = new Database(':memory:');
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const statement = prepare(sql);
    if (!sql.includes('@head')) return statement;
    const all = statement.all.bind(statement);
    statement.all = ((params: PageCall['params']) => {
      calls.push({ sql, params });
      return all(params);
    }) as typeof statement.all;
    return statement;
  }) as typeof db.prepare;
  return db;
};

const registered = (nodeId: string): EventToAppend => ({
  id: randomUUID(),
  type: 'NodeRegistered',
  data: { nodeId, profile: profile() },
  metadata: registrationMetadata(randomUUID()),
});

const revoked = (nodeId: string): EventToAppend => ({
  id: randomUUID(),
  type: 'NodeRevoked',
  data: { nodeId, reason: 'compromised' },
  metadata: { ...registrationMetadata(randomUUID()), commandType: 'revokeNode' },
});

const collect = async (events: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
};

const positions = (events: readonly RecordedEvent[]): bigint[] => events.map((e) => e.position);

describe('a sparse stream filter with an event type over a long log of that type', () => {
  const calls: PageCall[] = [];
  let db: Database.Database;
  let store: SqliteEventStore;
  // The HTTP route's filter: `stream=node-wanted-0,…,node-wanted-99&type=NodeRegistered`.
  const lifecycle = compileFilter(parseLifecycleFilter({ streams: WANTED, types: ['NodeRegistered'] }));
  const server: AllFilter = lifecycle.server;

  beforeAll(async () => {
    db = spiedDatabase(calls);
    // A small page too, so that pages are also cut by their size inside a window.
    store = new SqliteEventStore(db, { durability: 'normal', prefixScanWindow: WINDOW, pageSize: 3 });
    const append = (stream: string, events: EventToAppend[]) =>
      store.appendToStream(stream, events, { expectedRevision: ExpectedRevision.any });
    // Matches at the start, in the middle and at the end, a prefix-only match (`node-wanted-420` for
    // `node-wanted-42`) the exact check drops, and a wanted stream's event of another type.
    await append('node-wanted-3', [registered('wanted-3')]);
    for (let round = 0; round < FILLER_EVENTS_PER_STREAM; round++) {
      for (let s = 0; s < FILLER_STREAMS; s++) {
        await append(`node-filler-${s}`, [registered(`filler-${s}`)]);
      }
      if (round === 17) await append('node-wanted-42', [registered('wanted-42'), revoked('wanted-42')]);
      // More matches side by side than a page holds (3): a page cut by its size inside a window.
      if (round === 29) for (const n of [10, 11, 12, 13]) await append(`node-wanted-${n}`, [registered(`wanted-${n}`)]);
      if (round === 23) await append('node-wanted-420', [registered('wanted-420')]);
    }
    await append('node-wanted-99', [registered('wanted-99')]);
  }, 120_000);
  afterAll(() => store.close());

  it('never gives a page statement more positions than its share of the window, nor makes it more prefix checks', async () => {
    calls.length = 0;
    await collect(store.readAll({ filter: server }));
    const span = BigInt(WINDOW / WANTED.length);
    const typed = db.prepare('SELECT COUNT(*) AS n FROM events WHERE type = ? AND position > ? AND position <= ?').pluck();
    for (const { sql, params } of calls) {
      expect(sql).toContain('INDEXED BY events_type_position');
      expect(params.head - params.after).toBeLessThanOrEqual(span);
      // Each index entry its walk meets is tried against every stream id.
      expect(Number(typed.get('NodeRegistered', params.after, params.head)) * WANTED.length).toBeLessThanOrEqual(WINDOW);
    }
    // The log is many windows long: the bound is what ended most pages.
    expect(calls.length).toBeGreaterThan((FILLER_STREAMS * FILLER_EVENTS_PER_STREAM) / Number(span) - 1);
  });

  it('reads, across pages and windows, the events an unfiltered read keeps in JavaScript: once each, in order', async () => {
    const everything = await collect(store.readAll());
    const byStore = (e: RecordedEvent) => server.eventTypes!.includes(e.type) && server.streamPrefixes!.some((p) => e.streamId.startsWith(p));
    const read = await collect(store.readAll({ filter: server }));
    expect(positions(read)).toEqual(positions(everything.filter(byStore)));
    // What the integrator is sent: the exact stream ids only, not `node-wanted-420`, not the NodeRevoked.
    const sent = read.filter(lifecycle.keep);
    expect(sent.map((e) => e.streamId)).toEqual(['node-wanted-3', 'node-wanted-42', 'node-wanted-10', 'node-wanted-11', 'node-wanted-12', 'node-wanted-13', 'node-wanted-99']);
    expect(positions(sent)).toEqual(positions(everything.filter(lifecycle.keep)));
  });

  it('resumes from any match with the rest and nothing before it', async () => {
    const all = await collect(store.readAll({ filter: server }));
    for (const [index, event] of all.entries()) {
      const rest = await collect(store.readAll({ filter: server, afterPosition: event.position }));
      expect(positions(rest)).toEqual(positions(all.slice(index + 1)));
    }
  });

  it('subscribed, catches up window by window, then goes live', async () => {
    const expected = positions(await collect(store.readAll({ filter: server })));
    calls.length = 0;
    const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: server });
    const iterator = subscription[Symbol.asyncIterator]();
    try {
      const seen: bigint[] = [];
      for (const _ of expected) seen.push((await iterator.next()).value!.position);
      expect(seen).toEqual(expected);
      for (const { params } of calls) expect(params.head - params.after).toBeLessThanOrEqual(BigInt(WINDOW / WANTED.length));
      const live = await store.appendToStream('node-wanted-7', [registered('wanted-7')], { expectedRevision: ExpectedRevision.noStream });
      expect((await iterator.next()).value!.position).toBe(live.position);
    } finally {
      await subscription.unsubscribe();
    }
  });
});
