import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { ENTITY_KINDS, streamPrefixOf } from '../domain/streams.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { collect } from './support/collect.ts';

/**
 * Review 316: in a shared cluster, another application's record in a stream named like an entity's
 * (`subscription-…`, `node-…`) cannot be told from a damaged Credence event, so it stops Credence's reads of $all
 * (docs/eventstoredb.md says so). The refusal says what to do with it: which record (stream and event id), that it
 * is no Credence event, and that a stream of that name belongs to Credence; never the record's bytes. A record in a
 * stream of any other name is still read as foreign.
 */
const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');
const SECRET = 'another-applications-payload-7f3a';

describe('EventStoreDB: a record that is no Credence event in a stream named as one of Credence’s', () => {
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

  it.each(ENTITY_KINDS.map((kind) => [streamPrefixOf(kind)]))(
    'in %s…: readAll fails naming the stream and event id, saying the stream name is Credence’s, without the data',
    async (prefix) => {
      const start = await store.appendToStream(`node-${randomUUID()}`, [{ id: randomUUID(), type: 'Start', data: {}, metadata: {} }], {
        expectedRevision: ExpectedRevision.noStream,
      });
      const stream = `${prefix}${randomUUID()}`;
      const id = randomUUID();
      standIn.log.append(stream, { kind: 'any' }, [
        { id, type: 'Renewed', contentType: 'application/octet-stream', data: bytes(SECRET), customMetadata: bytes(SECRET) },
      ]);
      const error = await collect(store.readAll({ afterPosition: start.position })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCredenceError(error, 'protocol'), String(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain(stream);
      expect(message).toContain(id);
      expect(message).toMatch(/not a Credence event/);
      expect(message).toMatch(new RegExp(`a stream named ${prefix}… belongs to Credence`));
      expect(message).toMatch(/another application's stream of that name, or a damaged event/);
      expect(message).not.toContain(SECRET);
      // The remedy the docs give (delete the stream, scavenge): the read goes on.
      standIn.log.scavenge(stream);
      expect((await collect(store.readAll({ afterPosition: start.position }))).some((e) => e.streamId === stream)).toBe(false);
    },
  );

  it('still reads such a record in a stream of another name as foreign, and the read goes on', async () => {
    const start = await store.appendToStream(`node-${randomUUID()}`, [{ id: randomUUID(), type: 'Start', data: {}, metadata: {} }], {
      expectedRevision: ExpectedRevision.noStream,
    });
    const stream = `subscriptions-${randomUUID()}`; // not `subscription-`: no entity kind
    const id = randomUUID();
    standIn.log.append(stream, { kind: 'any' }, [{ id, type: 'Renewed', contentType: 'application/octet-stream', data: bytes(SECRET), customMetadata: new Uint8Array() }]);
    const read = await collect(store.readAll({ afterPosition: start.position }));
    expect(read.filter((e) => e.streamId === stream).map((e) => [e.id, e.data, e.metadata])).toEqual([[id, {}, {}]]);
  });
});
