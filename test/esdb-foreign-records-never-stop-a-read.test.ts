import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventStore, type RecordedEvent } from '../domain/ports/event-store.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { replayEntity } from '../projections/replay/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { collect } from './support/collect.ts';

/**
 * Review findings on records other clients write to a shared cluster: a foreign record that is not a Credence event
 * in any way is read as foreign instead of stopping every read of $all; a record in an entity stream is still
 * refused as damage; a $-typed event in an entity stream is seen by every read path, as on SQLite.
 */
const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');
const NOT_JSON = new Uint8Array([8, 150, 1]);

/** What another client may have written: JSON that is no object, malformed JSON, metadata that is no JSON object. */
const notCredence: [string, { contentType: string; data: Uint8Array; customMetadata: Uint8Array }][] = [
  ['array data', { contentType: 'application/json', data: bytes('[1,2]'), customMetadata: new Uint8Array() }],
  ['string data', { contentType: 'application/json', data: bytes('"x"'), customMetadata: new Uint8Array() }],
  ['number data', { contentType: 'application/json', data: bytes('42'), customMetadata: new Uint8Array() }],
  ['malformed JSON data', { contentType: 'application/json', data: bytes('{not json'), customMetadata: new Uint8Array() }],
  ['null metadata', { contentType: 'application/json', data: bytes('{}'), customMetadata: bytes('null') }],
  ['array metadata', { contentType: 'application/json', data: bytes('{}'), customMetadata: bytes('[]') }],
  ['metadata that is not JSON', { contentType: 'application/json', data: bytes('{}'), customMetadata: NOT_JSON }],
];

describe('EventStoreDB: records other clients wrote', () => {
  let standIn: StandIn;
  let store: EventStore;

  beforeAll(async () => {
    standIn = await startStandIn();
    store = openEventStoreDbStore(standIn.connectionString);
  });
  afterAll(async () => {
    await store.close();
    await standIn.stop();
  });

  const write = (streamId: string, type: string, record: (typeof notCredence)[number][1]): string => {
    const id = randomUUID();
    standIn.log.append(streamId, { kind: 'any' }, [{ id, type, ...record }]);
    return id;
  };

  it('reads a foreign record that is no Credence event as foreign, and the read of $all goes on past it', async () => {
    const start = await store.appendToStream(`node-${randomUUID()}`, [{ id: randomUUID(), type: 'Start', data: {}, metadata: {} }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const foreign = `billing-${randomUUID()}`;
    const written = notCredence.map(([, record]) => write(foreign, 'Invoice', record));
    const after = await store.appendToStream(`node-${randomUUID()}`, [{ id: randomUUID(), type: 'After', data: {}, metadata: {} }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const read = await collect(store.readAll({ afterPosition: start.position }));
    expect(read.filter((e) => e.streamId === foreign).map((e) => [e.id, e.data, e.metadata])).toEqual(written.map((id) => [id, {}, {}]));
    expect(read.at(-1)?.position).toBe(after.position);
    expect((await store.readStream(foreign)).map((e) => [e.data, e.metadata])).toEqual(written.map(() => [{}, {}]));
  });

  for (const [what, record] of notCredence) {
    it(`refuses ${what} in an entity stream with a protocol error naming the record`, async () => {
      const stream = `credential-${randomUUID()}`;
      const id = write(stream, 'CredentialIssued', record);
      const error = await store.readStream(stream).then(() => undefined, (e: unknown) => e);
      expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
      expect((error as Error).message).toContain(id);
    });
  }

  it('reads a $-typed event of an entity stream on every read path, and replay refuses it as on SQLite', async () => {
    const start = await store.appendToStream(`node-${randomUUID()}`, [{ id: randomUUID(), type: 'Start', data: {}, metadata: {} }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const stream = `credential-${randomUUID()}`;
    const id = write(stream, '$Imported', { contentType: 'application/json', data: bytes('{}'), customMetadata: new Uint8Array() });
    const [fromStream] = await store.readStream(stream);
    const fromAll = (await collect(store.readAll({ afterPosition: start.position }))).filter((e) => e.streamId === stream);
    const byPrefix = await collect(store.readAll({ afterPosition: start.position, filter: { streamPrefixes: [stream] } }));
    expect(fromStream?.id).toBe(id);
    expect(fromAll).toEqual([fromStream]);
    expect(byPrefix).toEqual([fromStream]);

    const sqlite = openSqliteStore({ memory: true });
    try {
      const row: RecordedEvent = fromStream!;
      await sqlite.appendToStream(stream, [{ id: row.id, type: row.type, data: row.data, metadata: row.metadata }], { expectedRevision: ExpectedRevision.noStream });
      const [onEsdb, onSqlite] = [await replayEntity(store, stream), await replayEntity(sqlite, stream)];
      // Positions are each store's own.
      const found = (verdict: typeof onEsdb.verdict) => (verdict.ok ? [] : verdict.findings.map(({ position: _, ...rest }) => rest));
      expect(found(onEsdb.verdict)).toEqual(found(onSqlite.verdict));
      expect(found(onEsdb.verdict)).toMatchObject([{ type: '$Imported', reason: expect.stringMatching(/unknown event type/) }]);
    } finally {
      await sqlite.close();
    }
  });
});
