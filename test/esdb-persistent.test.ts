import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ExpectedRevision, type EventToAppend, type RecordedEvent } from '../domain/ports/event-store.ts';
import { lifecycleEvent, standInStorePerTest, until } from './support/esdb-consumers.ts';

const events = (count: number, streamId: string): EventToAppend[] => Array.from({ length: count }, () => lifecycleEvent(streamId));

const rig = standInStorePerTest({ resubscribe: { initialDelayMs: 5, maxDelayMs: 20 } });

describe('persistent subscriptions to $all for integrator consumer groups', () => {
  it('creates the group when missing, filters on the server and acks what the handler took', async () => {
    const prefix = `node-${randomUUID()}-`;
    await rig.store.appendToStream(`other-${randomUUID()}`, events(3, 'other'), { expectedRevision: ExpectedRevision.any });
    const wanted = events(4, `${prefix}1`);
    await rig.store.appendToStream(`${prefix}1`, wanted, { expectedRevision: ExpectedRevision.noStream });
    const seen: RecordedEvent[] = [];
    rig.consumers.push(await rig.store.persistentSubscriptionToAll('integrator-a', (e) => void seen.push(e), { filter: { streamPrefixes: [prefix] } }));
    await until(() => seen.length === 4, 'four events');
    expect(seen.map((e) => e.id)).toEqual(wanted.map((e) => e.id));
    expect(rig.standIn.groups.get('integrator-a')).toBeDefined();
    const group = rig.standIn.groups.get('integrator-a')!;
    expect(group.retries).toEqual([]);
    expect(group.parked).toEqual([]);
    // A second consumer joins the existing group instead of failing on "already exists".
    rig.consumers.push(await rig.store.persistentSubscriptionToAll('integrator-a', () => undefined, { filter: { streamPrefixes: [prefix] } }));
    expect(rig.standIn.calls.filter((c) => c === 'PersistentCreate')).toHaveLength(2);
  });

  it('nacks a failed event for retry and hands it back with its retry count', async () => {
    const stream = `credential-${randomUUID()}`;
    const [flaky, next] = events(2, stream);
    await rig.store.appendToStream(stream, [flaky!, next!], { expectedRevision: ExpectedRevision.noStream });
    const deliveries: [string, number][] = [];
    rig.consumers.push(
      await rig.store.persistentSubscriptionToAll(
        'integrator-retry',
        (event, { retryCount }) => {
          deliveries.push([event.id, retryCount]);
          if (event.id === flaky!.id && retryCount < 2) throw new Error('downstream unavailable');
        },
        { filter: { streamPrefixes: [stream] }, maxRetryCount: 5, bufferSize: 1 },
      ),
    );
    await until(() => deliveries.length === 4, 'three attempts and the next event');
    expect(deliveries).toEqual([
      [flaky!.id, 0],
      [flaky!.id, 1],
      [flaky!.id, 2],
      [next!.id, 0],
    ]);
    expect(rig.standIn.groups.get('integrator-retry')!.parked).toEqual([]);
  });

  it('parks an event that keeps failing after the retry limit and moves on', async () => {
    const stream = `association-${randomUUID()}`;
    const [poison, healthy] = events(2, stream);
    await rig.store.appendToStream(stream, [poison!, healthy!], { expectedRevision: ExpectedRevision.noStream });
    const handled: string[] = [];
    rig.consumers.push(
      await rig.store.persistentSubscriptionToAll(
        'integrator-park',
        (event) => {
          if (event.id === poison!.id) throw new Error('cannot handle');
          handled.push(event.id);
        },
        { filter: { streamPrefixes: [stream] }, maxRetryCount: 2 },
      ),
    );
    await until(() => handled.length === 1 && rig.standIn.groups.get('integrator-park')!.parked.length === 1, 'the park');
    expect(handled).toEqual([healthy!.id]);
    const parked = rig.standIn.groups.get('integrator-park')!.parked[0]!;
    expect([parked.event.id, parked.retryCount]).toEqual([poison!.id, 2]);
  });

  it('parks, unhanded, an event every other reader of the store refuses (data past the message limits, review 115)', async () => {
    const stream = `node-${randomUUID()}`;
    const [registered] = events(1, stream);
    const oversized: EventToAppend = { ...registered!, id: randomUUID(), data: { ...registered!.data, padding: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])) } };
    const [healthy] = events(1, stream);
    await rig.store.appendToStream(stream, [oversized, healthy!], { expectedRevision: ExpectedRevision.noStream });
    const handled: string[] = [];
    rig.consumers.push(await rig.store.persistentSubscriptionToAll('integrator-limits', (event) => void handled.push(event.id), { filter: { streamPrefixes: [stream] } }));
    await until(() => handled.length === 1 && rig.standIn.groups.get('integrator-limits')!.parked.length === 1, 'the park and the next event');
    expect(handled).toEqual([healthy!.id]);
    const parked = rig.standIn.groups.get('integrator-limits')!.parked[0]!;
    expect([parked.event.id, parked.retryCount]).toEqual([oversized.id, 0]);
  });

  it('reconnects after the server drops the consumer and gets the in-flight event again', async () => {
    const stream = `node-${randomUUID()}`;
    await rig.store.appendToStream(stream, events(2, stream), { expectedRevision: ExpectedRevision.noStream });
    const seen: string[] = [];
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    rig.consumers.push(
      await rig.store.persistentSubscriptionToAll(
        'integrator-drop',
        async (event) => {
          seen.push(event.id);
          if (seen.length === 1) await blocked;
        },
        { filter: { streamPrefixes: [stream] }, bufferSize: 1 },
      ),
    );
    await until(() => seen.length === 1, 'the first delivery');
    rig.standIn.dropPersistentConsumers();
    release!();
    const later = events(1, stream);
    await rig.store.appendToStream(stream, later, { expectedRevision: ExpectedRevision.exact(1n) });
    await until(() => seen.includes(later[0]!.id), 'the event appended after the drop');
    const stored = (await rig.store.readStream(stream)).map((e) => e.id);
    // At-least-once: everything arrives, the event in flight at the drop is delivered again.
    expect(new Set(seen)).toEqual(new Set(stored));
    expect(seen.filter((id) => id === stored[0])).toHaveLength(2);
    expect(rig.standIn.calls.filter((c) => c === 'PersistentRead').length).toBeGreaterThanOrEqual(2);
  });

  it('stop() ends the consumer and settles done', async () => {
    const consumer = await rig.store.persistentSubscriptionToAll('integrator-stop', () => undefined);
    await consumer.stop();
    await expect(consumer.done).resolves.toBeUndefined();
  });
});
