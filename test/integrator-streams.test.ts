import { randomUUID } from 'node:crypto';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { lifecycleEvents$, type PassedOver } from '../projections/streams/index.ts';
import { T0, cmd, establishOne } from './support/fleet.ts';
import {
  TARGETS,
  appendInBatches,
  collector,
  credentialEvents,
  nodeEvents,
  openTarget,
  type Target,
} from './integrator-streams.fixtures.ts';

// Issue 6 item 3: what an integrator stream delivers (start points, filters, decoding), the same on both stores.

const failureOf = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe.each(TARGETS)('lifecycleEvents$ on the %s store', (name) => {
  let target: Target;
  beforeEach(async () => {
    target = await openTarget(name);
  });
  afterEach(async () => {
    await target.close();
  });

  it('starts from the start, from now, or strictly after a position the subscriber saw', async () => {
    const before = nodeEvents('meter-1', 4);
    await appendInBatches(target.store, 'node-meter-1', before);
    const everything = collector(lifecycleEvents$(target.store, { from: 'start' }));
    const fromNow = collector(lifecycleEvents$(target.store, { from: 'end' }));
    await everything.until(4);
    const resumed = collector(lifecycleEvents$(target.store, { from: everything.values[1]!.record.position }));
    const after = nodeEvents('meter-1', 2, 4);
    await appendInBatches(target.store, 'node-meter-1', after);
    await Promise.all([everything.until(6), fromNow.until(2), resumed.until(4)]);

    const ids = (values: { record: { id: string } }[]) => values.map((e) => e.record.id);
    expect(ids(everything.values)).toEqual([...before, ...after].map((e) => e.id));
    expect(ids(fromNow.values)).toEqual(after.map((e) => e.id));
    expect(ids(resumed.values)).toEqual([...before.slice(2), ...after].map((e) => e.id));
    for (const c of [everything, fromNow, resumed]) c.subscription.unsubscribe();
  });

  it('filters by entity kind, by event type and by exact stream id', async () => {
    await appendInBatches(target.store, 'node-meter-1', nodeEvents('meter-1', 4));
    await appendInBatches(target.store, 'node-meter-10', nodeEvents('meter-10', 2));
    await appendInBatches(target.store, 'credential-cred-1', credentialEvents('cred-1', 1));
    // Not an entity stream: never part of a lifecycle stream, whatever it holds.
    await target.store.appendToStream('audit-notes', nodeEvents('meter-1', 1), { expectedRevision: ExpectedRevision.any });

    const read = (filter: Parameters<typeof lifecycleEvents$>[1], count: number) =>
      firstValueFrom(lifecycleEvents$(target.store, filter).pipe(take(count), toArray()));
    const summary = (events: Awaited<ReturnType<typeof read>>) => events.map((e) => `${e.record.streamId}:${e.event.type}`);

    expect(summary(await read({}, 7))).toEqual([
      ...['NodeAssociated', 'NodeAssociationReleased', 'NodeAssociated', 'NodeAssociationReleased'].map((t) => `node-meter-1:${t}`),
      'node-meter-10:NodeAssociated',
      'node-meter-10:NodeAssociationReleased',
      'credential-cred-1:CredentialExpired',
    ]);
    expect(summary(await read({ kinds: ['credential'] }, 1))).toEqual(['credential-cred-1:CredentialExpired']);
    expect(summary(await read({ types: ['NodeAssociationReleased'] }, 3))).toEqual([
      'node-meter-1:NodeAssociationReleased',
      'node-meter-1:NodeAssociationReleased',
      'node-meter-10:NodeAssociationReleased',
    ]);
    // node-meter-1 is a prefix of node-meter-10: the stream filter is still exact.
    expect(summary(await read({ streams: ['node-meter-1'], types: ['NodeAssociated'] }, 2))).toEqual([
      'node-meter-1:NodeAssociated',
      'node-meter-1:NodeAssociated',
    ]);
    const tail = collector(lifecycleEvents$(target.store, { streams: ['node-meter-1', 'credential-cred-1'] }));
    await tail.until(5);
    await appendInBatches(target.store, 'node-meter-10', nodeEvents('meter-10', 1, 2));
    await appendInBatches(target.store, 'credential-cred-1', credentialEvents('cred-1', 1));
    await tail.until(6);
    tail.subscription.unsubscribe();
    expect(tail.values.at(-1)!.record.streamId).toBe('credential-cred-1');
    expect(tail.values.filter((e) => e.record.streamId === 'node-meter-10')).toEqual([]);
  });

  it('decodes each event: upcast data, parsed metadata, the instant it occurred', async () => {
    await appendInBatches(target.store, 'node-meter-1', nodeEvents('meter-1', 1));
    const [event] = await firstValueFrom(lifecycleEvents$(target.store).pipe(take(1), toArray()));
    expect(event!.event).toEqual({ type: 'NodeAssociated', data: { nodeId: 'meter-1', associationId: 'sa-0' } });
    expect(event!.metadata.actor).toEqual({ id: 'operator:alice', role: 'operator' });
    expect(event!.at).toBe(Date.parse('2026-01-01T00:00:00.000Z'));
  });

  // Review 79: it used to end the stream with a protocol error, at the same position on every resume, for good.
  it('passes over a stored event that does not decode, as the projections do, and tells onPassedOver', async () => {
    const [good, next] = nodeEvents('meter-1', 2);
    const broken = { ...good!, id: randomUUID(), data: { nodeId: 'meter-1' } };
    await appendInBatches(target.store, 'node-meter-1', [good!, broken, next!]);
    const passed: PassedOver[] = [];
    const stream = collector(lifecycleEvents$(target.store, {}, { onPassedOver: (p) => passed.push(p) }));
    await stream.until(2);
    stream.subscription.unsubscribe();
    expect(stream.values.map((e) => e.record.id)).toEqual([good!.id, next!.id]);
    expect(passed).toEqual([
      { position: expect.any(BigInt), streamId: 'node-meter-1', revision: 1n, type: 'NodeAssociated', reason: expect.stringContaining('associationId'), misplaced: false },
    ]);
  });

  it('errors when onEvent rejects, and ends the store subscription', async () => {
    await appendInBatches(target.store, 'node-meter-1', nodeEvents('meter-1', 3));
    let calls = 0;
    const stream = collector(
      lifecycleEvents$(target.store, {}, {
        onEvent: async () => {
          calls += 1;
          if (calls === 2) throw new Error('socket closed');
        },
      }),
    );
    expect(await failureOf(stream.until(3))).toEqual(new Error('socket closed'));
    expect(stream.values).toHaveLength(1);
    expect((await target.opened[0]![Symbol.asyncIterator]().next()).done).toBe(true);
  });

  it('completes when the store is closed under it', async () => {
    await appendInBatches(target.store, 'node-meter-1', nodeEvents('meter-1', 1));
    let delivered = 0;
    const completed = new Promise<void>((resolve, reject) =>
      lifecycleEvents$(target.store).subscribe({ next: () => (delivered += 1), complete: resolve, error: reject }),
    );
    await firstValueFrom(lifecycleEvents$(target.store).pipe(take(1)));
    await target.store.close();
    await completed;
    expect(delivered).toBe(1);
  });
});

describe('lifecycleEvents$ over what the engine appends', () => {
  it('streams what the engine appends, decoded, filtered as asked', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    const credentials = collector(lifecycleEvents$(store, { kinds: ['credential'] }));
    await establishOne(engine);
    await credentials.until(2);
    await engine.execute(cmd.revokeCredential());
    await credentials.until(3);
    credentials.subscription.unsubscribe();
    expect(credentials.values.map((e) => e.event.type)).toEqual(['CredentialIssued', 'CredentialProvisioned', 'CredentialRevoked']);
    expect(credentials.values.every((e) => e.record.streamId === 'credential-cred-1')).toBe(true);
    await store.close();
  });
});

describe('lifecycle stream filters', () => {
  const store = openSqliteStore({ memory: true });

  it.each([
    ['an unknown kind', { kinds: ['device'] }, 'kinds.0'],
    ['an unknown event type', { types: ['NodeExploded'] }, 'types.0'],
    ['a type of another kind than the kinds asked for', { kinds: ['node'], types: ['CredentialRevoked'] }, 'types.0'],
    ['a stream that is not <kind>-<id>', { streams: ['meter-1'] }, 'streams.0'],
    ['a stream of another kind than the kinds asked for', { kinds: ['credential'], streams: ['node-meter-1'] }, 'streams.0'],
    ['a negative position', { from: -1n }, 'from'],
    ['a position as a number', { from: 3 }, 'from'],
    ['an empty list', { kinds: [] }, 'kinds'],
    ['an unknown field', { stream: 'node-meter-1' }, 'filter'],
  ])('rejects %s with a validation error naming the field, before subscribing', (_label, filter, path) => {
    let error: unknown;
    try {
      lifecycleEvents$(store, filter as never);
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    const issues = (error as { problem: { issues: { path: string }[] } }).problem.issues;
    expect(issues.map((i) => i.path)).toContain(path);
  });
});
