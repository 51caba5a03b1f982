import { describe, expect, it } from 'vitest';
import { FakeClock, HOUR } from '../adapters/driven/clock/index.ts';
import { openCredence, startLive, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { parseStreamId } from '../domain/streams.ts';
import { allEntities, entityRow, listEntities } from '../projections/entities/index.ts';
import { cmd, establishMeter, operator, T0 } from './support/fleet.ts';

/** Three meters, each with a credential and an association; meter-2 revoked (cascade), meter-3 only registered. */
const fleet = async (c: Credence, clock: FakeClock): Promise<void> => {
  const run = (x: unknown) => c.engine.execute(x);
  await run(cmd.createSubscription());
  for (const n of [1, 2, 3]) await run(cmd.registerNode(`meter-${n}`));
  for (const n of [1, 2]) {
    clock.advance(HOUR);
    await establishMeter(c.engine, n);
  }
  await c.settle();
  clock.advance(HOUR);
  await run(command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
  await c.settle();
};

describe('entities read model (list by kind and state)', () => {
  it('holds every entity in the state its machine gives it, with its revision, position and time', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await fleet(c, clock);
    const rows = allEntities(c.readModels);
    expect(rows.map((r) => r.streamId)).toEqual([
      'association-sa-1',
      'association-sa-2',
      'credential-cred-1',
      'credential-cred-2',
      'node-meter-1',
      'node-meter-2',
      'node-meter-3',
      'subscription-sub-1',
    ]);
    for (const { snapshot, ...row } of rows) {
      const ref = parseStreamId(row.streamId)!;
      const entity = await c.engine.entity(ref.kind, ref.id);
      const last = entity.events.at(-1)!;
      // The compact snapshot is the machine's own context, so the next event is decided on exactly what the engine sees.
      expect(JSON.parse(snapshot)).toEqual({ value: entity.snapshot.value, context: entity.snapshot.context });
      expect(row).toEqual({
        streamId: row.streamId,
        kind: ref.kind,
        id: ref.id,
        state: String(entity.snapshot.value),
        revision: last.record.revision,
        position: last.record.position,
        updatedAt: last.metadata.occurredAt,
      });
    }
    expect(entityRow(c.readModels, 'node-meter-2')?.state).toBe('revoked');
    expect(entityRow(c.readModels, 'credential-cred-2')?.state).toBe('revoked');
    expect(entityRow(c.readModels, 'node-nope')).toBeUndefined();
    await c.close();
  });

  it('rebuilt from position 0, equals what was built while following the store live', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    const live = startLive(c, { tickMs: 50 });
    await live.start();
    await fleet(c, clock);
    expect(await live.caughtUp((await c.store.headPosition())!, 5000)).toBe(true);
    await live.stop();
    const followed = allEntities(c.readModels);
    expect(followed.length).toBeGreaterThan(5);

    await c.runner.rebuild('entities');
    expect(allEntities(c.readModels)).toEqual(followed);
    await c.close();
  });

  it('pages by kind and state in stream order, each page starting strictly after the last row of the one before', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    await fleet(c, clock);
    const nodes = listEntities(c.readModels, { kind: 'node', limit: 2 });
    expect(nodes.map((r) => r.id)).toEqual(['meter-1', 'meter-2']);
    const next = listEntities(c.readModels, { kind: 'node', limit: 2, after: nodes.at(-1)!.streamId });
    expect(next.map((r) => r.id)).toEqual(['meter-3']);
    expect(listEntities(c.readModels, { kind: 'node', limit: 2, after: next.at(-1)!.streamId })).toEqual([]);

    expect(listEntities(c.readModels, { state: 'revoked', limit: 10 }).map((r) => r.streamId)).toEqual([
      'association-sa-2',
      'credential-cred-2',
      'node-meter-2',
    ]);
    expect(listEntities(c.readModels, { kind: 'node', state: 'initialized', limit: 10 }).map((r) => r.id)).toEqual(['meter-3']);
    await c.close();
  });
});
