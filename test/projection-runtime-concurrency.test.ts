import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
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

it('a checkpoint write never moves a checkpoint back', async () => {
  const { setupCheckpoints, writeCheckpoint, readCheckpoint } = await import('../projections/runtime/checkpoints.ts');
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  setupCheckpoints(db);
  writeCheckpoint(db, 'p', { position: 5n, occurredAt: 't5' });
  writeCheckpoint(db, 'p', { position: 3n, occurredAt: 't3' });
  expect(readCheckpoint(db, 'p')).toEqual({ position: 5n, occurredAt: 't5' });
  writeCheckpoint(db, 'p', { position: 8n, occurredAt: 't8' });
  expect(readCheckpoint(db, 'p')?.position).toBe(8n);
});

it('a rebuild during an in-flight catch-up drops what was read before the reset and applies everything once after it', async () => {
  const store = openSqliteStore({ memory: true });
  const { engine } = fixture(store);
  await engine.execute(cmd.createSubscription());
  for (let i = 0; i < 20; i++) await engine.execute(cmd.registerNode(`n-${i}`));
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  let applied: bigint[] = [];
  const slow: Projection = {
    name: 'slow',
    setup: () => {},
    reset: () => {
      applied = [];
    },
    apply: (_db, e) => void applied.push(e.record.position),
    react: async () => new Promise((resolve) => setTimeout(resolve, 1)),
  };
  const runner = new ProjectionRunner({ db, store, projections: [slow], batchSize: 4 });
  const inFlight = runner.catchUp('slow');
  await new Promise((r) => setTimeout(r, 5));
  await runner.rebuild('slow');
  await inFlight;
  expect(runner.checkpoint('slow')).toBe(await store.headPosition());
  expect(applied).toEqual(Array.from({ length: 21 }, (_, i) => BigInt(i + 1)));
});
