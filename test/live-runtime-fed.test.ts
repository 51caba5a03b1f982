import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { RecentEvents, RECENT_LIMIT } from '../adapters/runtime/live-recent.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import type { RecordedEvent } from '../domain/ports/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { cmd, fixture } from './support/fleet.ts';

const readAll = async (store: ReturnType<typeof openSqliteStore>): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const r of store.readAll()) out.push(r);
  return out;
};

/** A projection of NodeRegistered only, recording what it applied. */
const counting = (applied: bigint[]): Projection => ({
  name: 'nodes',
  eventTypes: ['NodeRegistered'],
  setup: () => {},
  reset: () => void applied.splice(0),
  apply: (_db, e) => void applied.push(e.record.position),
});

/** A store with a subscription and three nodes, and a runner of the counting projection over a fresh read model. */
const seeded = async () => {
  const store = openSqliteStore({ memory: true });
  const { engine } = fixture(store);
  await engine.execute(cmd.createSubscription());
  for (const n of ['a', 'b', 'c']) await engine.execute(cmd.registerNode(n));
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const applied: bigint[] = [];
  return { store, engine, applied, runner: new ProjectionRunner({ db, store, projections: [counting(applied)] }) };
};

describe('the live runtime feeds projections what its subscription delivered (runner.handle)', () => {
  it('applies only the projection’s own types past its checkpoint, as a catch-up would', async () => {
    const { store, applied, runner } = await seeded();
    const records = await readAll(store);

    // Fed everything, twice (a redelivery): each NodeRegistered once, nothing else.
    expect(await runner.handle('nodes', records, runner.generation('nodes'))).toBe(true);
    expect(await runner.handle('nodes', records, runner.generation('nodes'))).toBe(true);
    const nodes = records.filter((r) => r.type === 'NodeRegistered').map((r) => r.position);
    expect(applied).toEqual(nodes);
    expect(runner.checkpoint('nodes')).toBe(nodes.at(-1));
    await store.close();
  });

  it('refuses records read before a rebuild: they would leave a gap behind the reset checkpoint', async () => {
    const { store, engine, applied, runner } = await seeded();
    const generation = runner.generation('nodes');
    await runner.catchUp('nodes');
    await engine.execute(cmd.registerNode('d'));
    const tail = (await readAll(store)).slice(-1);

    await runner.rebuild('nodes');
    expect(await runner.handle('nodes', tail, generation)).toBe(false);
    // The rebuild read the store itself ('d' included): each NodeRegistered applied once since the reset.
    await runner.catchUp('nodes');
    expect(applied).toHaveLength(4);
    expect(new Set(applied).size).toBe(4);
    await store.close();
  });
});

describe('RecentEvents: the records the subscription delivered since a position', () => {
  const record = (position: bigint) => ({ position }) as RecordedEvent;

  it('answers only for positions it holds every event after', () => {
    const recent = new RecentEvents(10n);
    for (const p of [11n, 12n, 13n]) recent.push(record(p));
    expect(recent.after(9n)).toBeUndefined();
    expect(recent.after(undefined)).toBeUndefined();
    expect(recent.after(10n)?.records.map((r) => r.position)).toEqual([11n, 12n, 13n]);
    expect(recent.after(12n)).toEqual({ records: [record(13n)], through: 13n });
    expect(recent.after(20n)).toEqual({ records: [], through: 13n });

    recent.trim(12n);
    expect(recent.after(11n)).toBeUndefined();
    expect(recent.after(12n)?.records.map((r) => r.position)).toEqual([13n]);
  });

  it('from the start of an empty store, and bounded', () => {
    const recent = new RecentEvents(0n);
    expect(recent.after(undefined)).toEqual({ records: [], through: 0n });
    for (let p = 1; p <= RECENT_LIMIT + 1; p++) recent.push(record(BigInt(p)));
    expect(recent.after(undefined)).toBeUndefined();
    const kept = recent.after(BigInt(RECENT_LIMIT / 2 + 1));
    expect(kept?.records).toHaveLength(RECENT_LIMIT / 2);
    expect(kept?.through).toBe(BigInt(RECENT_LIMIT + 1));
  });
});
