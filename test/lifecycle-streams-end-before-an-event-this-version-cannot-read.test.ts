import { randomUUID } from 'node:crypto';
import { firstValueFrom, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/sqlite/index.ts';
import { hmacSha256 } from '../domain/crypto/index.ts';
import type { EventStore, EventToAppend } from '../domain/ports/event-store.ts';
import { decodeStored, type StoredRecord } from '../domain/stored.ts';
import { PseudonymDeriver, publicLifecycle } from '../projections/pseudonyms/index.ts';
import { NewerEventError, lifecycleEvents$, publicEvents$, type PassedOver } from '../projections/streams/index.ts';
import { appendInBatches, nodeEvents } from './integrator-streams.fixtures.ts';

/*
 * Review 85, finding 2: the streams passed over an event written by a newer build (an unknown type, a schema version
 * above what this build knows) as over one that can never be a fact. After a downgrade a subscriber resuming with
 * Last-Event-ID moved past it, and once upgraded again never got it: resume is strictly after the client's position.
 * The library's streams now end before such an event with a typed error, and pass over only what no build can read.
 */

const stores: EventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

const deriver = new PseudonymDeriver({ prf: async (m) => hmacSha256(new Uint8Array(32).fill(0x33), m) });

/** Node n1's events at 1 and 2, `newer` at 3 (its NodeAssociationReleased, an identity event), n1's again at 4 and 5. */
const storeWith = async (newer: (event: EventToAppend) => EventToAppend): Promise<EventStore> => {
  const store = openSqliteStore({ memory: true });
  stores.push(store);
  await appendInBatches(store, 'node-n1', nodeEvents('n1', 2));
  await appendInBatches(store, 'node-n1', [newer({ ...nodeEvents('n1', 1, 3)[0]!, id: randomUUID() })]);
  await appendInBatches(store, 'node-n1', nodeEvents('n1', 2, 4));
  return store;
};

const atVersion99 = (event: EventToAppend): EventToAppend => ({ ...event, metadata: { ...event.metadata, schemaVersion: 99 } });
const ofAnUnknownType = (event: EventToAppend): EventToAppend => ({ ...event, type: 'NodeTeleported' });

/** What a stream delivered before it ended, and how it ended. */
const run = async <T>(events: Observable<T>): Promise<{ values: T[]; error: unknown; completed: boolean }> => {
  const values: T[] = [];
  return new Promise((resolve) => {
    const subscription = events.subscribe({
      next: (value) => {
        values.push(value);
      },
      error: (error: unknown) => resolve({ values, error, completed: false }),
      complete: () => resolve({ values, error: undefined, completed: true }),
    });
    // A live stream that went past the event delivers 4 and 5: enough to tell, then it is stopped.
    const check = setInterval(() => {
      if (values.length >= 4) {
        clearInterval(check);
        subscription.unsubscribe();
        resolve({ values, error: undefined, completed: false });
      }
    }, 5);
    subscription.add(() => clearInterval(check));
  });
};

const recordAt = async (store: EventStore, position: bigint): Promise<StoredRecord> => {
  for await (const record of store.readAll({})) if (record.position === position) return record;
  throw new Error(`no record at ${position}`);
};

describe('an event this version cannot read because a newer one wrote it', () => {
  it('is told apart by decodeStored from one no version can read', async () => {
    expect(decodeStored(await recordAt(await storeWith(atVersion99), 3n))).toMatchObject({ ok: false, newer: true });
    expect(decodeStored(await recordAt(await storeWith(ofAnUnknownType), 3n))).toMatchObject({ ok: false, newer: true });
    // Stored outside its entity's stream, or data its schema refuses at a version this build knows: never a fact.
    const misplaced = decodeStored(await recordAt(await storeWith((e) => ({ ...e, data: { nodeId: 'n9', associationId: 'sa-1' } })), 3n));
    expect(misplaced).toMatchObject({ ok: false, misplaced: true });
    expect(misplaced).not.toHaveProperty('newer');
    const refused = decodeStored(await recordAt(await storeWith((e) => ({ ...e, data: { nodeId: 'n1' } })), 3n));
    expect(refused).toMatchObject({ ok: false });
    expect(refused).not.toHaveProperty('newer');
  });

  it.each([
    ['at a schema version above this build', atVersion99, 'NodeAssociationReleased v99 is newer than this build knows (v1)'],
    ['of a type this build does not know', ofAnUnknownType, 'unknown event type NodeTeleported'],
  ])('%s ends lifecycleEvents$ before it with a NewerEventError, fresh and resumed', async (_, newer, reason) => {
    const store = await storeWith(newer);
    const passed: PassedOver[] = [];
    const fresh = await run(lifecycleEvents$(store, {}, { onPassedOver: (p) => passed.push(p) }));
    expect(fresh.values.map((e) => e.record.position)).toEqual([1n, 2n]);
    expect(fresh.error).toBeInstanceOf(NewerEventError);
    expect(fresh.error).toMatchObject({ code: 'newer_event', position: 3n, streamId: 'node-n1', revision: 2n, reason });
    expect((fresh.error as Error).message).toContain('position 3');
    expect(passed).toEqual([]);
    // A subscriber resuming after the last event it received meets it again, and is not moved past it.
    const resumed = await run(lifecycleEvents$(store, { from: 2n }));
    expect(resumed.values).toEqual([]);
    expect(resumed.error).toMatchObject({ code: 'newer_event', position: 3n });
  });

  it('does not end a stream whose filter leaves it out', async () => {
    const store = await storeWith(atVersion99);
    await appendInBatches(store, 'node-n2', nodeEvents('n2', 4));
    const other = await run(lifecycleEvents$(store, { streams: ['node-n2'] }));
    expect(other.error).toBeUndefined();
    expect(other.values.map((e) => e.record.position)).toEqual([6n, 7n, 8n, 9n]);
  });

  it("ends the library's pseudonymised streams before it too", async () => {
    const store = await storeWith(atVersion99);
    const library = await run(publicLifecycle(store, deriver, { live: false }));
    expect(library.completed).toBe(false);
    expect(library.error).toMatchObject({ code: 'newer_event', position: 3n });
    expect(library.values.every((e) => e.position < 3n)).toBe(true);
    const service = await run(publicEvents$(store, deriver, {}));
    expect(service.error).toMatchObject({ code: 'newer_event', position: 3n });
    expect(service.values.every((e) => e.position < 3n)).toBe(true);
    // Resumed after it (a subscriber that read it from a newer server), the identity fold cannot fold it either.
    await expect(firstValueFrom(publicLifecycle(store, deriver, { afterPosition: 4n, live: false }))).rejects.toMatchObject({
      code: 'newer_event',
      position: 3n,
    });
  });
});
