// Review 265: reactions left in flight return at once, so a transaction's time bound (maxBatchMs) never ended it and it
// took every event of the batch (up to batchSize), holding the read-model connection's write lock until all of them
// settled. A transaction now ends at the next event boundary once 512 are in flight.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { cmd, fixture } from './support/fleet.ts';

describe('a transaction of reactions left in flight', () => {
  it('ends once 512 are in flight, and every event is still reacted to once', async () => {
    const store = openSqliteStore({ memory: true });
    const f = fixture(store);
    for (let n = 0; n < 1300; n++) await f.engine.execute(cmd.registerNode(`meter-${n}`));
    let running = 0;
    let most = 0;
    const reacted = new Set<string>();
    const projection: Projection = {
      name: 'in-flight-probe',
      eventTypes: ['NodeRegistered'],
      setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS probe (n INTEGER)'),
      reset: () => {},
      apply: (db) => {
        db.prepare('INSERT INTO probe VALUES (?)').run(running);
      },
      async react(e) {
        reacted.add(e.record.id);
        running++;
        most = Math.max(most, running);
        const settled = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          running--;
        });
        return { settled };
      },
    };
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const runner = new ProjectionRunner({ db, store, projections: [projection], batchSize: 2000, maxBatchMs: 60_000 });
    await runner.catchUp();
    expect(reacted.size).toBe(1300);
    expect(db.prepare('SELECT COUNT(*) FROM probe').pluck().get()).toBe(1300n);
    expect(most).toBe(512);
    await store.close();
  });
});
