import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { openSqliteStore, openSqliteStoreInDir, SCHEMA_VERSION } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { type RecordedEvent } from '../domain/ports/index.ts';
import { type EventStore } from '../domain/ports/index.ts';
import { collect, ids, newEvent, newEvents, nextWithin, take } from './store-conformance/helpers.ts';

const any = { expectedRevision: ExpectedRevision.any };
const countAll = async (store: EventStore): Promise<number> => (await collect(store.readAll())).length;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('embedded SQLite event store', () => {
  let dir: string;
  let file: string;
  const opened: EventStore[] = [];
  const track = <T extends EventStore>(store: T): T => (opened.push(store), store);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credence-sqlite-'));
    file = join(dir, 'events.db');
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps events across close and reopen, and continues positions after them', async () => {
    const first = openSqliteStoreInDir(join(dir, 'nested', 'data'));
    const events = newEvents('Enrolled', 3);
    const before = await first.appendToStream('node-1', events, { expectedRevision: ExpectedRevision.noStream });
    await first.close();

    const reopened = track(openSqliteStoreInDir(join(dir, 'nested', 'data')));
    expect(ids(await reopened.readStream('node-1'))).toEqual(ids(events));
    expect(await reopened.headPosition()).toBe(before.position);
    const after = await reopened.appendToStream('node-1', [newEvent('Revoked')], {
      expectedRevision: ExpectedRevision.exact(2n),
    });
    expect(after.nextExpectedRevision).toBe(3n);
    expect(after.position > before.position).toBe(true);
  });

  it('rolls back every event of a multi-event append that fails inside its transaction', async () => {
    let failNext = false;
    const store = track(
      openSqliteStore({
        file,
        beforeCommit: (_stream, recorded) => {
          if (failNext) throw new Error(`injected failure after inserting ${recorded.length} events`);
        },
      }),
    );
    await store.appendToStream('node-1', [newEvent('Enrolled')], any);
    const head = await store.headPosition();
    const count = await countAll(store);

    failNext = true;
    const doomed = newEvents('Provisioned', 4);
    await expect(
      store.appendToStream('credential-1', doomed, { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-1' }),
    ).rejects.toThrow('injected failure after inserting 4 events');

    expect(await store.headPosition()).toBe(head);
    expect(await countAll(store)).toBe(count);
    expect(await store.readStream('credential-1')).toEqual([]);
    // The command id was rolled back too: the retry is a first attempt, not a duplicate.
    failNext = false;
    const retry = await store.appendToStream('credential-1', doomed, {
      expectedRevision: ExpectedRevision.noStream,
      commandId: 'cmd-1',
    });
    expect(retry.deduplicated).toBe(false);
    expect(ids(await store.readStream('credential-1'))).toEqual(ids(doomed));
  });

  it('delivers to a subscription events appended through another connection to the same file', async () => {
    const reader = track(openSqliteStore({ file, pollIntervalMs: 20 }));
    const writer = track(openSqliteStore({ file }));
    const subscription = reader.subscribeToAll({ from: { kind: 'end' } });
    const iterator = subscription[Symbol.asyncIterator]();
    const pending = take(iterator, 3);
    const written = newEvents('Associated', 3);
    // Each append comes after a turn of the event loop, when the reader has found nothing and gone idle; the
    // writer's appends never reach the reader's in-process notifier, so only its poll can wake it.
    await turn();
    await writer.appendToStream('association-1', written.slice(0, 2), any);
    await turn();
    await writer.appendToStream('association-2', written.slice(2), any);
    expect(ids(await pending)).toEqual(ids(written));
    await subscription.unsubscribe();
  });

  it('runs the file in WAL mode with the schema version recorded', async () => {
    track(openSqliteStore({ file }));
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it('refuses a file written by a newer schema version', async () => {
    await openSqliteStore({ file }).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openSqliteStore({ file })).toThrow(
      `schema version ${SCHEMA_VERSION + 1}, newer than this build supports (${SCHEMA_VERSION})`,
    );
  });

  it('reports a damaged stored row as a validation error naming its position', async () => {
    const store = track(openSqliteStore({ file }));
    const result = await store.appendToStream('node-1', [newEvent('Enrolled', { ok: true })], any);
    const raw = new Database(file);
    raw.prepare("UPDATE events SET data = '[not json' WHERE position = ?").run(result.position);
    raw.close();

    const error = await store.readStream('node-1').catch((e: unknown) => e);
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect((error as Error).message).toContain(`stored event at position ${result.position}`);
    expect((error as Error).message).toContain('data: is not JSON');
  });

  it('matches stream prefixes literally, GLOB and LIKE wildcards and case included', async () => {
    const store = track(openSqliteStore({ memory: true }));
    const streams = ['lit*a-1', 'lit%a-1', 'lit_a-1', 'lit?a-1', 'lit[a]-1', 'LIT*a-1', 'litXa-1'];
    for (const streamId of streams) await store.appendToStream(streamId, [newEvent('Seen')], any);
    const streamsMatching = async (prefix: string, eventTypes?: string[]): Promise<string[]> =>
      (await collect(store.readAll({ filter: { streamPrefixes: [prefix], ...(eventTypes ? { eventTypes } : {}) } }))).map(
        (e) => e.streamId,
      );
    for (const prefix of ['lit*', 'lit%', 'lit_', 'lit?', 'lit[a]', 'LIT*']) {
      const expected = streams.filter((s) => s.startsWith(prefix));
      expect(await streamsMatching(prefix)).toEqual(expected);
      expect(await streamsMatching(prefix, ['Seen'])).toEqual(expected);
    }
  });

  it('ends its subscriptions and refuses further use when closed', async () => {
    const store = openSqliteStore({ memory: true });
    const subscription = store.subscribeToAll({ from: { kind: 'start' } });
    const pending = subscription[Symbol.asyncIterator]().next();
    await store.close();
    expect(await nextWithin({ next: () => pending }, 'the end of the iteration')).toEqual({ done: true, value: undefined });
    await expect(store.appendToStream('node-1', [newEvent('Enrolled')], any)).rejects.toThrow(/closed/);
    await expect(collect(store.readAll())).rejects.toThrow(/closed/);
  });

  it('treats an empty append, an event id already stored and an empty filter list as caller mistakes', async () => {
    const store = track(openSqliteStore({ memory: true }));
    const refusal = (attempt: () => Promise<unknown>) =>
      attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
    const empty = await refusal(() => store.appendToStream('node-1', [], any));
    expect(empty).toBeInstanceOf(Error);
    expect(isCredenceError(empty)).toBe(false);
    expect((empty as Error).message).toMatch(/^events: /);

    const stored = newEvent('Enrolled');
    await store.appendToStream('node-1', [stored], any);
    const head = await store.headPosition();
    const duplicate = await refusal(() => store.appendToStream('node-2', [newEvent('Enrolled'), stored], any));
    expect((duplicate as Error).message).toMatch(/^events\[1\]\.id: /);
    expect(await store.headPosition()).toBe(head);

    expect(() => store.readAll({ filter: { eventTypes: [] } })).toThrow(/^options\.filter\.eventTypes: /);
    expect(() => store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [] } })).toThrow(
      /^options\.filter\.streamPrefixes: /,
    );
  });

  it('lets appends proceed while a slow subscriber is behind, then delivers all 20,000 events in order', async () => {
    const store = track(openSqliteStore({ file }));
    const total = 20_000;
    const batch = 100;
    const subscription = store.subscribeToAll({ from: { kind: 'start' } });
    const received: RecordedEvent[] = [];
    const consumer = (async () => {
      for await (const event of subscription) {
        received.push(event);
        if (received.length === total) break;
        await turn(); // the consumer yields after every event, so it cannot keep up with 100-event appends
      }
    })();

    const appended: string[] = [];
    for (let i = 0; i < total / batch; i += 1) {
      const events = newEvents('MeterRead', batch);
      appended.push(...ids(events));
      await store.appendToStream(`meter-${i % 7}`, events, any);
      await turn();
    }
    const receivedWhenAppendsFinished = received.length;
    await consumer;

    expect(receivedWhenAppendsFinished).toBeLessThan(total);
    expect(ids(received)).toEqual(appended);
    received.slice(1).forEach((event, i) => expect(event.position > received[i]!.position).toBe(true));
  });
});
