import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredenceError, isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { EventStoreDbStore, openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { collect } from './support/collect.ts';

const event = (type: string, data: Record<string, number | string> = {}): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
  metadata: { actor: 'operator-1' },
});

async function failure(attempt: Promise<unknown>): Promise<unknown> {
  return attempt.then(
    () => expect.unreachable('the call should have failed'),
    (error: unknown) => error,
  );
}

describe('EventStoreDB adapter through the real client and the gRPC stand-in', () => {
  let standIn: StandIn;
  let store: EventStoreDbStore;

  beforeAll(async () => {
    standIn = await startStandIn({ logStart: 2n ** 62n });
    store = openEventStoreDbStore(standIn.connectionString);
  });
  afterAll(async () => {
    await store.close();
    await standIn.stop();
  });

  describe('concurrency', () => {
    it('maps the client WrongExpectedVersionError to our concurrency_conflict with both revisions', async () => {
      const stream = `node-${randomUUID()}`;
      await store.appendToStream(stream, [event('A'), event('B')], { expectedRevision: ExpectedRevision.noStream });
      const stale = await failure(
        store.appendToStream(stream, [event('C')], { expectedRevision: ExpectedRevision.exact(0n) }),
      );
      expect(stale).toBeInstanceOf(CredenceError);
      expect((stale as CredenceError).problem).toEqual({
        code: 'concurrency_conflict',
        streamId: stream,
        expected: 'revision 0',
        actual: 'revision 1',
        message: `stream ${stream} was expected at revision 0 but is at revision 1`,
      });
      const exists = await failure(store.appendToStream(stream, [event('C')], { expectedRevision: ExpectedRevision.noStream }));
      expect(isCredenceError(exists, 'concurrency_conflict') && exists.problem).toMatchObject({ expected: 'no stream', actual: 'revision 1' });
      const missing = await failure(
        store.appendToStream(`node-${randomUUID()}`, [event('C')], { expectedRevision: ExpectedRevision.exact(3n) }),
      );
      expect(isCredenceError(missing, 'concurrency_conflict') && missing.problem).toMatchObject({ expected: 'revision 3', actual: 'no stream' });
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);
    });
  });

  describe('positions beyond 2^53', () => {
    it('keeps every commit position exact from the wire to append results, reads and subscriptions', async () => {
      const stream = `credential-${randomUUID()}`;
      const result = await store.appendToStream(stream, [event('A'), event('B')], { expectedRevision: ExpectedRevision.noStream });
      const logged = standIn.log.stream(stream)!.map((e) => e.position);
      expect(logged[0]! > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      // Two positions a Number could not tell apart prove no conversion happened on the way.
      expect(Number(logged[0]) === Number(logged[0]! + 1n)).toBe(true);
      expect(result.position).toBe(logged[1]);
      expect((await store.readStream(stream)).map((e) => e.position)).toEqual(logged);
      const read = await collect(store.readAll({ afterPosition: logged[0]!, filter: { streamPrefixes: [stream] } }));
      expect(read.map((e) => e.position)).toEqual([logged[1]]);
      const subscription = store.subscribeToAll({ from: { kind: 'start' }, filter: { streamPrefixes: [stream] } });
      const iterator = subscription[Symbol.asyncIterator]();
      const delivered = [(await iterator.next()).value, (await iterator.next()).value] as RecordedEvent[];
      await subscription.unsubscribe();
      expect(delivered.map((e) => e.position)).toEqual(logged);
      expect(await store.headPosition()).toBe(standIn.log.all.at(-1)!.position);
    });
  });

  describe('idempotency by command id', () => {
    it('answers a batch re-sent at the same revision (deduplicated by the server) with the first result', async () => {
      const stream = `node-${randomUUID()}`;
      await store.appendToStream(stream, [event('A')], { expectedRevision: ExpectedRevision.noStream });
      const batch = [event('B'), event('C')];
      const options = { expectedRevision: ExpectedRevision.exact(0n), commandId: randomUUID() };
      const first = await store.appendToStream(stream, batch, options);
      const again = await store.appendToStream(stream, batch, options);
      expect(first.deduplicated).toBe(false);
      expect(again).toEqual({ ...first, deduplicated: true });
      expect(standIn.log.stream(stream)!.map((e) => e.type)).toEqual(['A', 'B', 'C']);
    });

    it('finds an earlier write of the command after a conflict, even with other event ids', async () => {
      const stream = `node-${randomUUID()}`;
      const commandId = randomUUID();
      const first = await store.appendToStream(stream, [event('A'), event('B')], { expectedRevision: ExpectedRevision.noStream, commandId });
      await store.appendToStream(stream, [event('Later')], { expectedRevision: ExpectedRevision.exact(1n) });
      const retried = await store.appendToStream(stream, [event('A2')], { expectedRevision: ExpectedRevision.noStream, commandId });
      expect(retried).toEqual({ ...first, deduplicated: true });
      const otherCommand = await failure(
        store.appendToStream(stream, [event('X')], { expectedRevision: ExpectedRevision.noStream, commandId: randomUUID() }),
      );
      expect(isCredenceError(otherCommand, 'concurrency_conflict')).toBe(true);
      expect(standIn.log.stream(stream)!.map((e) => e.type)).toEqual(['A', 'B', 'Later']);
    });

    it('stores the command marker on the wire and hides it from readers', async () => {
      const stream = `node-${randomUUID()}`;
      const commandId = randomUUID();
      await store.appendToStream(stream, [event('A')], { expectedRevision: ExpectedRevision.noStream, commandId });
      const onWire = JSON.parse(Buffer.from(standIn.log.stream(stream)![0]!.customMetadata).toString('utf8'));
      expect(onWire).toMatchObject({ actor: 'operator-1', $credence: { commandId } });
      expect((await store.readStream(stream))[0]!.metadata).toEqual({ actor: 'operator-1' });
    });
  });

  describe('server-side filters', () => {
    it('lets the server drop non-matching events instead of shipping them to the client', async () => {
      const prefix = `filter-${randomUUID()}-`;
      const start = await store.appendToStream(`${prefix}start`, [event('Start')], { expectedRevision: ExpectedRevision.any });
      const noise = Array.from({ length: 40 }, () => event('Noise'));
      await store.appendToStream(`other-${randomUUID()}`, noise, { expectedRevision: ExpectedRevision.any });
      await store.appendToStream(`${prefix}a`, [event('Wanted')], { expectedRevision: ExpectedRevision.any });
      const sentBefore = standIn.subscriptionEventsSent;
      const read = await collect(store.readAll({ afterPosition: start.position, filter: { streamPrefixes: [prefix] } }));
      expect(read.map((e) => e.type)).toEqual(['Wanted']);
      expect(standIn.subscriptionEventsSent - sentBefore).toBe(1);
    });

    it('matches event types exactly, metacharacters included', async () => {
      const stream = `types-${randomUUID()}`;
      const suffix = randomUUID().slice(0, 8);
      const wanted = `Node.Enrolled(v2)+${suffix}`;
      const start = await store.appendToStream(stream, [event('Start')], { expectedRevision: ExpectedRevision.noStream });
      await store.appendToStream(
        stream,
        [event(wanted), event(`NodeXEnrolled(v2)+${suffix}`), event(`${wanted}.more`), event(`pre${wanted}`)],
        { expectedRevision: ExpectedRevision.any },
      );
      const read = await collect(store.readAll({ afterPosition: start.position, filter: { eventTypes: [wanted] } }));
      expect(read.map((e) => e.type)).toEqual([wanted]);
    });

    it('never returns system events, and the head ignores them', async () => {
      const last = await store.appendToStream(`node-${randomUUID()}`, [event('A')], { expectedRevision: ExpectedRevision.any });
      standIn.log.append('$stats-127.0.0.1:2113', { kind: 'any' }, [
        { id: randomUUID(), type: '$statsCollected', contentType: 'application/json', data: Buffer.from('{}'), customMetadata: new Uint8Array() },
      ]);
      const everything = await collect(store.readAll());
      expect(everything.some((e) => e.streamId.startsWith('$') || e.type.startsWith('$'))).toBe(false);
      expect(everything.at(-1)!.position).toBe(last.position);
      expect(await store.headPosition()).toBe(last.position);
    });
  });

  describe('boundaries', () => {
    it('reports a stored event that is not a Credence event as a protocol error naming it', async () => {
      const stream = `node-${randomUUID()}`;
      const id = randomUUID();
      standIn.log.append(stream, { kind: 'any' }, [
        { id, type: 'Blob', contentType: 'application/octet-stream', data: new Uint8Array([1, 2, 3]), customMetadata: new Uint8Array() },
      ]);
      const error = await failure(store.readStream(stream));
      expect(isCredenceError(error, 'protocol')).toBe(true);
      expect((error as Error).message).toContain(id);
      // In a stream of no entity (another application's in a shared cluster) it is read as a foreign record.
      const foreign = `billing-${randomUUID()}`;
      standIn.log.append(foreign, { kind: 'any' }, [
        { id, type: 'Blob', contentType: 'application/octet-stream', data: new Uint8Array([1, 2, 3]), customMetadata: new Uint8Array() },
      ]);
      expect((await store.readStream(foreign)).map((r) => [r.type, r.data, r.metadata])).toEqual([['Blob', {}, {}]]);
    });

    it('refuses an empty append and a non-UUID event id before reaching the server', async () => {
      const calls = standIn.calls.length;
      await expect(store.appendToStream('node-x', [], { expectedRevision: ExpectedRevision.any })).rejects.toThrow(/^events:/);
      const invalid = await failure(
        store.appendToStream('node-x', [{ ...event('A'), id: 'not-a-uuid' }], { expectedRevision: ExpectedRevision.any }),
      );
      expect(isCredenceError(invalid, 'validation')).toBe(true);
      expect(standIn.calls.length).toBe(calls);
    });
  });
});

describe('client fallback from BatchAppend to Append', () => {
  it('appends with the unary-stream Append call when the server does not serve ServerFeatures', async () => {
    const standIn = await startStandIn({ serverFeatures: false });
    const store = openEventStoreDbStore(standIn.connectionString);
    try {
      await store.appendToStream('node-1', [event('A')], { expectedRevision: ExpectedRevision.noStream });
      await store.appendToStream('node-1', [event('B')], { expectedRevision: ExpectedRevision.exact(0n) });
      expect(standIn.calls.filter((c) => c === 'Append')).toHaveLength(2);
      expect(standIn.calls).not.toContain('BatchAppend');
      expect(standIn.log.stream('node-1')!.map((e) => e.type)).toEqual(['A', 'B']);
    } finally {
      await store.close();
      await standIn.stop();
    }
  });

  it('appends with Append when ServerFeatures does not list BatchAppend', async () => {
    const standIn = await startStandIn();
    const store = openEventStoreDbStore(standIn.connectionString);
    try {
      await store.appendToStream('node-1', [event('A')], { expectedRevision: ExpectedRevision.noStream });
      expect(standIn.calls.slice(0, 2)).toEqual(['GetSupportedMethods', 'Append']);
    } finally {
      await store.close();
      await standIn.stop();
    }
  });
});
