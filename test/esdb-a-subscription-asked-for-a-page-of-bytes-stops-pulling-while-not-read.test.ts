import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { OrderedPump } from '../adapters/driven/store/eventstoredb/ordered-pump.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 294. On EventStoreDB a subscription whose reader stopped (an event stream's client that stops reading) held
 * up to 256 received events, whatever their size: `pageBytes`, which the SSE routes ask for, was ignored there, and
 * one stalled stream over CredentialIssued events with a 16 KiB certificate held some 7 MB. Now the adapter's queue
 * of received events also pauses the gRPC call once their payload (data and metadata text) reaches `pageBytes`, and
 * resumes below it; without `pageBytes` it still holds up to 256 (projections and the live runtime read at their pace).
 */

const { startStandIn, hold } = standInTeardown();

const RECORDS = 400;
const RECORD_CHARS = 20_000;
const PAGE_BYTES = 64 * 1024;
const certificate = 'A'.repeat(RECORD_CHARS);

/** Records of some 20 kB, another application's (the adapter reads them as they are). */
const fill = (standIn: StandIn): void => {
  for (let n = 0; n < RECORDS; n += 1) {
    const appended = standIn.log.append(`issue-${n}`, { kind: 'any' }, [
      { id: randomUUID(), type: 'CertificateIssued', contentType: 'application/json', data: Buffer.from(JSON.stringify({ n, certificate })), customMetadata: new Uint8Array() },
    ]);
    if (appended.kind !== 'success') throw new Error('a record was not appended');
  }
};

/** Waits until the stand-in has sent nothing more for a while: the subscription's call is paused end to end. */
const settled = async (standIn: StandIn): Promise<number> => {
  let sent = -1;
  while (sent !== standIn.subscriptionEventsSent) {
    sent = standIn.subscriptionEventsSent;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return sent;
};

describe('a subscription asked for a page of bytes, on EventStoreDB', () => {
  it('stops pulling after a few events while not read, and delivers every event once, in order, when read again', async () => {
    const standIn = await startStandIn();
    fill(standIn);
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const subscription = store.subscribeToAll({ from: { kind: 'start' }, pageBytes: PAGE_BYTES });
    const iterator = subscription[Symbol.asyncIterator]();
    const first = await iterator.next();
    const sent = await settled(standIn);
    // Four events in the adapter's queue (64 KiB), one or two in the client's own stream and what gRPC has in flight
    // (its client stream buffers 16 messages, plus an HTTP/2 window and the server's side): 30 measured; 309 before,
    // the adapter's queue of 256 first.
    expect(sent, 'events the stand-in sent while the subscription was not read').toBeLessThanOrEqual(40);

    const seen = [(first.value!.data as { n: number }).n];
    while (seen.length < RECORDS) {
      const next = await iterator.next();
      expect(next.done).toBe(false);
      seen.push((next.value!.data as { n: number }).n);
    }
    expect(seen).toEqual(Array.from({ length: RECORDS }, (_, n) => n));
    await subscription.unsubscribe();
  }, 60_000);

  it('without pageBytes still queues up to 256 events (the pace of projections and the live runtime)', async () => {
    const standIn = await startStandIn();
    fill(standIn);
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    const subscription = store.subscribeToAll({ from: { kind: 'start' } });
    const iterator = subscription[Symbol.asyncIterator]();
    await iterator.next();
    expect(await settled(standIn)).toBeGreaterThan(256);
    await subscription.unsubscribe();
  }, 60_000);

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses pageBytes %s, naming the option', async (pageBytes) => {
    const standIn = await startStandIn();
    const store = hold(openEventStoreDbStore(standIn.connectionString));
    expect(() => store.subscribeToAll({ from: { kind: 'start' }, pageBytes })).toThrow(/options\.pageBytes/);
  });
});

describe('the ordered pump with a budget of bytes', () => {
  type Item = { readonly n: number; readonly bytes: number };
  const sizeOf = (item: Item): number => item.bytes;

  it('pauses its source once the queued items reach the budget, and resumes below it', async () => {
    const source = new PassThrough({ objectMode: true, highWaterMark: 1 });
    const pump = new OrderedPump<Item>(source, (chunk) => chunk as Item, 256, { bytes: 50_000, sizeOf });
    const written: number[] = [];
    for (let n = 0; n < 20; n += 1) {
      source.write({ n, bytes: 20_000 });
      written.push(n);
    }
    source.end();
    await new Promise((resolve) => setImmediate(resolve));
    // 20,000 + 20,000 is below 50,000; the third reaches it.
    expect(pump.queued).toBe(3);
    expect(source.isPaused()).toBe(true);
    const out: number[] = [];
    for (let next = await pump.next(); next.done !== true; next = await pump.next()) {
      out.push(next.value.n);
      expect(pump.queued).toBeLessThanOrEqual(3);
    }
    expect(out).toEqual(written);
  });

  it('always queues one item, however large', async () => {
    const source = new PassThrough({ objectMode: true, highWaterMark: 1 });
    const pump = new OrderedPump<Item>(source, (chunk) => chunk as Item, 256, { bytes: 1_000, sizeOf });
    source.write({ n: 0, bytes: 1_000_000 });
    source.write({ n: 1, bytes: 1_000_000 });
    source.end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pump.queued).toBe(1);
    expect((await pump.next()).value).toEqual({ n: 0, bytes: 1_000_000 });
    expect((await pump.next()).value).toEqual({ n: 1, bytes: 1_000_000 });
    expect((await pump.next()).done).toBe(true);
  });
});
