import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/sqlite/index.ts';
import type { EventStore, EventToAppend, JsonObject } from '../domain/ports/event-store.ts';
import { decodeStored, type StoredRecord } from '../domain/stored.ts';
import { parseStreamId } from '../domain/streams.ts';
import { lifecycleEvents$, type PassedOver } from '../projections/streams/index.ts';
import { appendInBatches, nodeEvents } from './integrator-streams.fixtures.ts';

/*
 * Review 86, finding 2: the streams ended before any record decodeStored called `newer`, and it called newer what no
 * newer Credence could have written: (a) a NodeRegistered at schemaVersion 99 stored in `credential-x` (the version
 * was judged before the stream, so a misplaced event ended every stream instead of being passed over); (b) an event
 * of another application's type in a stream that happens to be named like an entity's (`subscription-42` on an
 * EventStoreDB cluster shared with other applications): every unfiltered stream ended there for good. A misplaced
 * event is now passed over whatever its version, and an unknown type is newer only in an entity stream and with
 * Credence's metadata; otherwise it is foreign, passed over.
 */

const stores: EventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** Node n1's events at 1 and 2, `odd` at 3 in `streamId`, n1's again at 4 and 5. */
const storeWith = async (streamId: string, odd: EventToAppend): Promise<EventStore> => {
  const store = openSqliteStore({ memory: true });
  stores.push(store);
  await appendInBatches(store, 'node-n1', nodeEvents('n1', 2));
  await appendInBatches(store, streamId, [odd]);
  await appendInBatches(store, 'node-n1', nodeEvents('n1', 2, 2));
  return store;
};

/** Credence's metadata, as every stored event carries it (domain/metadata.ts EventMetadata). */
const credenceMetadata = (schemaVersion: number): JsonObject => ({
  schemaVersion,
  actor: { id: 'op-1', role: 'operator' },
  commandId: randomUUID(),
  commandType: 'registerNode',
  correlationId: randomUUID(),
  causationId: randomUUID(),
  occurredAt: '2026-01-01T00:00:00.000Z',
});

const registration = (schemaVersion: number): EventToAppend => ({
  id: randomUUID(),
  type: 'NodeRegistered',
  data: { nodeId: 'x', profile: { anything: 'a newer version may have changed it' } },
  metadata: credenceMetadata(schemaVersion),
});

/** Another application's event, with its own metadata, as a shared EventStoreDB cluster holds them. */
const invoice = (metadata: JsonObject = { $correlationId: randomUUID(), tenant: 'acme' }): EventToAppend => ({
  id: randomUUID(),
  type: 'InvoiceSent',
  data: { invoiceId: 'inv-7', amount: 12 },
  metadata,
});

const recordAt = async (store: EventStore, position: bigint): Promise<StoredRecord> => {
  for await (const record of store.readAll({})) if (record.position === position) return record;
  throw new Error(`no record at ${position}`);
};

/** Everything a non-live lifecycle stream delivers and passes over, and whether it ended in error. */
const drain = async (store: EventStore): Promise<{ positions: bigint[]; passed: PassedOver[]; error: unknown }> => {
  const positions: bigint[] = [];
  const passed: PassedOver[] = [];
  const error = await new Promise<unknown>((resolve) => {
    const subscription = lifecycleEvents$(store, {}, { onPassedOver: (p) => passed.push(p) }).subscribe({
      next: (e) => {
        positions.push(e.record.position);
        if (positions.length === 4) {
          subscription.unsubscribe();
          resolve(undefined);
        }
      },
      error: resolve,
      complete: () => resolve(undefined),
    });
  });
  return { positions, passed, error };
};

describe('a stored event no Credence version reads in its stream is passed over, whatever version it claims', () => {
  it.each([
    ['a NodeRegistered at schemaVersion 99 stored in a credential stream', 'credential-x', registration(99)],
    ['a NodeRegistered at schemaVersion 99 stored in a stream of no entity', 'inbox-x', registration(99)],
    ["another application's InvoiceSent in a stream named like a subscription's", 'subscription-42', invoice()],
    ["another application's InvoiceSent with no metadata at all", 'subscription-42', invoice({})],
    ["an InvoiceSent with Credence's metadata, in a stream of no entity", 'billing-42', invoice(credenceMetadata(1))],
  ])('%s', async (_, streamId, odd) => {
    const store = await storeWith(streamId, odd);
    const decoded = decodeStored(await recordAt(store, 3n));
    expect(decoded).toMatchObject({ ok: false });
    expect(decoded).not.toHaveProperty('newer');
    const { positions, passed, error } = await drain(store);
    expect(error).toBeUndefined();
    expect(positions).toEqual([1n, 2n, 4n, 5n]);
    // A stream of no entity is not read by the lifecycle streams at all (their filter is the entities' prefixes).
    const read = parseStreamId(streamId) !== undefined;
    expect(passed.map((p) => [p.position, p.streamId, p.type])).toEqual(read ? [[3n, streamId, odd.type]] : []);
  });

  it('says a misplaced event of a newer version is misplaced, naming the kind of stream it belongs in', async () => {
    const decoded = decodeStored(await recordAt(await storeWith('credential-x', registration(99)), 3n));
    expect(decoded).toMatchObject({ ok: false, misplaced: true, reason: 'NodeRegistered belongs in a node stream but is stored in credential-x' });
  });

  it("still ends before an event of an unknown type in an entity stream with Credence's metadata, and one at a newer version in its own kind's stream", async () => {
    const teleported: EventToAppend = { ...invoice(credenceMetadata(1)), type: 'NodeTeleported', data: { nodeId: 'n1' } };
    for (const [streamId, odd] of [
      ['node-n1', teleported],
      ['node-x', registration(99)],
    ] as const) {
      const store = await storeWith(streamId, odd);
      expect(decodeStored(await recordAt(store, 3n))).toMatchObject({ ok: false, newer: true });
      const { positions, passed, error } = await drain(store);
      expect(positions).toEqual([1n, 2n]);
      expect(passed).toEqual([]);
      expect(error).toMatchObject({ code: 'newer_event', position: 3n, streamId });
    }
  });
});
