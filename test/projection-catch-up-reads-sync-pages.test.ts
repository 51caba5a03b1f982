import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { complianceProjection } from '../projections/compliance/index.ts';
import { expiryScheduler } from '../projections/expiry/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { syncPagesOnly, withoutSyncPages } from './support/sync-pages.ts';
import { cmd, establishMeter, fixture, operator } from './support/fleet.ts';

/*
 * A catch-up reads the embedded store's pages synchronously (`readAllPagesSync`: no promise per record, issue 15
 * item 5) and any other store through `readAll`. The read models must come out the same either way, whether a
 * runner batch spans several store pages or a store page spans several batches.
 */

const TABLES = ['audit_events', 'compliance_revocations', 'compliance_enrolments', 'compliance_credentials', 'compliance_provisioned',
  'compliance_associations', 'expiry_deadlines', 'projection_checkpoints'];

const dump = (db: Database.Database): Record<string, unknown[]> =>
  Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));

const memoryDb = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

const opened = async () => {
  // Store pages of 4 events: a runner batch of 10 is read over three of them.
  const store = openSqliteStore({ memory: true, pageSize: 4 });
  const { engine } = fixture(store);
  await engine.execute(cmd.createSubscription());
  for (const n of [1, 2, 3]) {
    await engine.execute(cmd.registerNode(`meter-${n}`));
    await establishMeter(engine, n);
  }
  await engine.execute(cmd.revokeCredential('cred-2', 'superseded'));
  return { store, engine };
};

describe('projection catch-up over synchronous store pages', () => {
  it('builds the read models a catch-up through readAll builds, all together and one by one, and resumes after new events', async () => {
    const { store, engine } = await opened();
    const projections = (): Projection[] => [auditTrail(), complianceProjection(), expiryScheduler(engine)];

    const viaReadAll = memoryDb();
    await new ProjectionRunner({ db: viaReadAll, store: withoutSyncPages(store), projections: projections(), batchSize: 10 }).catchUp();

    const pages: number[] = [];
    const together = memoryDb();
    const handled = await new ProjectionRunner({ db: together, store: syncPagesOnly(store, pages), projections: projections(), batchSize: 10 }).catchUp();
    expect(handled).toBeGreaterThan(20);
    expect(pages.length).toBeGreaterThan(5);
    expect(Math.max(...pages)).toBe(4);
    expect(dump(together)).toEqual(dump(viaReadAll));

    const oneByOne = memoryDb();
    const runner = new ProjectionRunner({ db: oneByOne, store: syncPagesOnly(store, []), projections: projections(), batchSize: 3 });
    for (const name of runner.names) await runner.catchUp(name);
    expect(dump(oneByOne)).toEqual(dump(viaReadAll));

    // New events: both resume from their checkpoints to the same tables again.
    await engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await new ProjectionRunner({ db: viaReadAll, store: withoutSyncPages(store), projections: projections(), batchSize: 10 }).catchUp();
    await new ProjectionRunner({ db: together, store: syncPagesOnly(store, []), projections: projections(), batchSize: 10 }).catchUp();
    expect(dump(together)).toEqual(dump(viaReadAll));
    expect((together.prepare("SELECT COUNT(*) AS n FROM compliance_revocations WHERE kind = 'node'").get() as { n: bigint }).n).toBe(1n);
    await store.close();
  });

  it('surfaces an error of the store read, as readAll does, leaving the checkpoint where it was', async () => {
    const { store, engine } = await opened();
    const failing = Object.assign(Object.create(store) as EventStore, {
      readAllPagesSync: () => ({
        *[Symbol.iterator](): Generator<never> {
          throw new Error('disk read failed');
        },
      }),
    });
    const db = memoryDb();
    const runner = new ProjectionRunner({ db, store: failing, projections: [auditTrail(), expiryScheduler(engine)] });
    await expect(runner.catchUp()).rejects.toThrow('disk read failed');
    expect(runner.checkpoint('audit')).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) AS n FROM audit_events').get()).toEqual({ n: 0n });
    await store.close();
  });
});
