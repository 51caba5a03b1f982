import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { openSqliteStore } from '../adapters/store/index.ts';
import { cmd, fixture } from './support/fleet.ts';

it('catch-up running while the runner follows live applies every event exactly once, and checkpoints only move forward', async () => {
  const store = openSqliteStore({ memory: true });
  const { engine } = fixture(store);
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  const applied: bigint[] = [];
  const counting: Projection = {
    name: 'counting',
    setup: () => {},
    reset: () => {},
    apply: (_db, e) => void applied.push(e.record.position),
    // An async reaction makes handling yield, so live delivery and catch-up really do overlap.
    react: async () => new Promise((resolve) => setImmediate(resolve)),
  };
  const runner = new ProjectionRunner({ db, store, projections: [counting] });
  await runner.start();
  await engine.execute(cmd.createSubscription());
  for (let i = 0; i < 40; i++) {
    await engine.execute(cmd.registerNode(`n-${i}`));
    if (i % 5 === 0) await runner.catchUp();
  }
  await runner.catchUp();
  const head = await store.headPosition();
  for (let i = 0; i < 200 && runner.checkpoint('counting') !== head; i++) await new Promise((r) => setTimeout(r, 10));
  await runner.stop();
  expect(runner.checkpoint('counting')).toBe(head);
  expect(applied).toEqual([...new Set(applied)].sort((a, b) => (a < b ? -1 : 1)));
  expect(applied).toHaveLength(41);
});
