import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/sqlite/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { lifecycleEvents$, type PassedOver } from '../projections/streams/index.ts';
import { appendInBatches, nodeEvents } from './integrator-streams.fixtures.ts';

/*
 * Review 79: the library's lifecycle stream ended with an error at the first stored event it could not decode, and a
 * resume before it met the same error again. It now passes over such an event, as the projections do, and tells
 * `onPassedOver` where it is and why.
 */

const stores: EventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** Node n1's events at 1, 2, 4 and 5; at 3 one of node n3's stored in node n2's stream. */
const storeWithAMisplacedEvent = async (): Promise<EventStore> => {
  const store = openSqliteStore({ memory: true });
  stores.push(store);
  await appendInBatches(store, 'node-n1', nodeEvents('n1', 2));
  await appendInBatches(store, 'node-n2', nodeEvents('n3', 1));
  await appendInBatches(store, 'node-n1', nodeEvents('n1', 2, 2));
  return store;
};

const positionsOf = async (store: EventStore, from: 'start' | bigint, passed: PassedOver[]): Promise<bigint[]> => {
  const events = await firstValueFrom(
    lifecycleEvents$(store, { from }, { onPassedOver: (p) => passed.push(p) }).pipe(take(from === 'start' ? 4 : 2), toArray()),
  );
  return events.map((e) => e.record.position);
};

describe('a lifecycle stream over an event it cannot read', () => {
  it('passes over it and delivers the events after it, telling onPassedOver its position and reason', async () => {
    const store = await storeWithAMisplacedEvent();
    const passed: PassedOver[] = [];
    expect(await positionsOf(store, 'start', passed)).toEqual([1n, 2n, 4n, 5n]);
    expect(passed).toEqual([
      { position: 3n, streamId: 'node-n2', revision: 0n, type: 'NodeAssociated', reason: 'NodeAssociated is addressed to n3 but stored in node-n2', misplaced: true },
    ]);
  });

  it('passes over it again when resumed before it', async () => {
    const store = await storeWithAMisplacedEvent();
    const passed: PassedOver[] = [];
    expect(await positionsOf(store, 2n, passed)).toEqual([4n, 5n]);
    expect(passed.map((p) => p.position)).toEqual([3n]);
  });

  it('needs no onPassedOver to go on past it', async () => {
    const store = await storeWithAMisplacedEvent();
    const events = await firstValueFrom(lifecycleEvents$(store).pipe(take(4), toArray()));
    expect(events.map((e) => e.record.position)).toEqual([1n, 2n, 4n, 5n]);
  });

  it('refuses an onPassedOver that is not a function', () => {
    const store = openSqliteStore({ memory: true });
    stores.push(store);
    expect(() => lifecycleEvents$(store, {}, { onPassedOver: 'log' as never })).toThrow('options.onPassedOver: must be a function');
  });
});
