// Issue 15 item 5: projections apply many events per read-model transaction, the checkpoint in the same
// transaction, projections with reactions included; a failure in the middle of a batch leaves exactly what the
// events before it did, and resuming gives what a clean rebuild gives, with no reaction issued twice.
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { auditTrail } from '../projections/audit/index.ts';
import { cascadeProcessManager } from '../projections/cascade/index.ts';
import { complianceProjection } from '../projections/compliance/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner, readCheckpoint, type Projection } from '../projections/runtime/index.ts';
import { cmd, footprint } from './support/fleet.ts';
import { settledPseudonymFleet, testKey } from './support/pseudonym-fleet.ts';

const TABLES = ['cascade_dependents', 'cascade_dead_letters', 'pseudonym_nodes', 'pseudonym_directory', 'audit_events', 'compliance_credentials', 'projection_checkpoints'];

/** Every row of the read-model tables `db` has, in a stable order. */
const dump = (db: Database.Database) =>
  Object.fromEntries(
    TABLES.filter((t) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined).map((t) => [
      t,
      db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all(),
    ]),
  );

const memoryDb = () => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

/** A settled fleet: three nodes registered, enrolled, with credentials and associations, one credential revoked. */
const fleet = (): Promise<Credence> => settledPseudonymFleet([cmd.revokeCredential('cred-2', 'keyCompromise')]);

const reacting = (c: Credence): Projection[] => [cascadeProcessManager(c.engine), pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey) }), auditTrail()];

describe('projection batches', () => {
  it('applies many events of a projection with reactions in one transaction, checkpoint included, reactions in order', async () => {
    const c = await fleet();
    const db = memoryDb();
    const rotation = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey) });
    const seen: { position: bigint; inTransaction: boolean; checkpoint: bigint | undefined }[] = [];
    const watched: Projection = {
      ...rotation,
      async react(e) {
        seen.push({ position: e.record.position, inTransaction: db.inTransaction, checkpoint: readCheckpoint(db, 'pseudonyms')?.position });
        await rotation.react!(e);
      },
    };
    const runner = new ProjectionRunner({ db, store: c.store, projections: [watched], batchSize: 1000, maxBatchMs: 60_000 });
    const before = await footprint(c.store);
    await runner.catchUp();
    expect(seen.length).toBeGreaterThan(10);
    // In global order, each inside the open transaction, and no checkpoint committed until the batch ends.
    expect(seen.map((s) => s.position)).toEqual([...seen.map((s) => s.position)].sort((a, b) => (a < b ? -1 : 1)));
    expect(seen.every((s) => s.inTransaction && s.checkpoint === undefined)).toBe(true);
    expect(readCheckpoint(db, 'pseudonyms')?.position).toBe(seen.at(-1)!.position);
    // Every reaction had happened already: derived command ids make the repeats no-ops.
    expect(await footprint(c.store)).toEqual(before);
    expect(dump(db)['pseudonym_nodes']).toEqual(dump(c.readModels)['pseudonym_nodes']);

    // Bounded: with 4 events per transaction, the checkpoint moves every 4 events.
    const small = memoryDb();
    const checkpoints: (bigint | undefined)[] = [];
    const rotation2 = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey) });
    await new ProjectionRunner({
      db: small,
      store: c.store,
      projections: [{ ...rotation2, react: async (e) => (checkpoints.push(readCheckpoint(small, 'pseudonyms')?.position), rotation2.react!(e)) }],
      batchSize: 4,
      maxBatchMs: 60_000,
    }).catchUp();
    expect(new Set(checkpoints).size).toBe(Math.ceil(checkpoints.length / 4));
    await c.close();
  });

  it('keeps the events before a failing reaction with their checkpoint, and resuming equals a clean rebuild with no reaction issued twice', async () => {
    const c = await fleet();
    const before = await footprint(c.store);
    const clean = memoryDb();
    await new ProjectionRunner({ db: clean, store: c.store, projections: reacting(c) }).catchUp();

    for (const failAt of [1, 5, 13]) {
      const db = memoryDb();
      const [cascade, ...rest] = reacting(c);
      let calls = 0;
      let failedAt: RecordedEvent | undefined;
      const faulty: Projection = {
        ...cascade!,
        async react(e) {
          if (++calls === failAt) {
            failedAt = e.record as RecordedEvent;
            await cascade!.react!(e);
            throw new Error('store unreachable (simulated) after the reaction, before the checkpoint');
          }
          await cascade!.react!(e);
        },
      };
      const crashing = new ProjectionRunner({ db, store: c.store, projections: [faulty, ...rest], batchSize: 1000, maxBatchMs: 60_000 });
      await expect(crashing.catchUp()).rejects.toThrow('store unreachable');
      // The cascade committed the events before the failing one (none of the failing one's writes) with their checkpoint.
      const checkpoint = readCheckpoint(db, 'cascade')?.position;
      if (failAt === 1) expect(checkpoint).toBeUndefined();
      else {
        expect(checkpoint).toBeLessThan(failedAt!.position);
        const after = (db.prepare('SELECT COUNT(*) AS n FROM cascade_dependents').get() as { n: bigint }).n;
        expect(after).toBeGreaterThan(0n);
      }

      const resumed = new ProjectionRunner({ db, store: c.store, projections: reacting(c), batchSize: 3 });
      await resumed.catchUp();
      expect(dump(db), `failing at reaction ${failAt}`).toEqual(dump(clean));
    }
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });

  it('an apply that throws in the middle of a batch with reactions leaves no write of that event', async () => {
    const c = await fleet();
    const db = memoryDb();
    const [cascade] = reacting(c);
    let applied = 0;
    const faulty: Projection = {
      ...cascade!,
      apply(d, e) {
        cascade!.apply!(d, e);
        if (++applied === 6) throw new Error('disk full (simulated) inside the transaction');
      },
    };
    await expect(new ProjectionRunner({ db, store: c.store, projections: [faulty], batchSize: 1000 }).catchUp()).rejects.toThrow('disk full');
    const handled = [] as bigint[];
    for await (const r of c.store.readAll({ filter: { eventTypes: cascade!.eventTypes! } })) handled.push(r.position);
    expect(readCheckpoint(db, 'cascade')?.position).toBe(handled[4]);
    const clean = memoryDb();
    await new ProjectionRunner({ db: clean, store: c.store, projections: [cascadeProcessManager(c.engine)], batchSize: 5 }).catchUp();
    await new ProjectionRunner({ db, store: c.store, projections: [cascadeProcessManager(c.engine)] }).catchUp();
    expect(dump(db)['cascade_dependents']).toEqual(dump(clean)['cascade_dependents']);
    await c.close();
  });

  it('one writer per connection: a batch asked for while a reaction is awaited waits, and survives that batch failing', async () => {
    const c = await fleet();
    const db = memoryDb();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reactions = 0;
    const slow: Projection = {
      name: 'slow',
      eventTypes: ['NodeRegistered'],
      setup: (d) => d.exec('CREATE TABLE IF NOT EXISTS slow_rows (position INTEGER PRIMARY KEY)'),
      reset: (d) => d.exec('DELETE FROM slow_rows'),
      apply: (d, e) => void d.prepare('INSERT INTO slow_rows VALUES (?)').run(e.record.position),
      async react() {
        if (++reactions === 2) {
          await gate;
          throw new Error('reaction refused (simulated)');
        }
      },
    };
    const runner = new ProjectionRunner({ db, store: c.store, projections: [slow, auditTrail()] });
    const slowRun = runner.catchUp('slow').then(() => undefined, (e: unknown) => e);
    await vi.waitFor(() => expect(reactions).toBe(2));
    expect(db.inTransaction).toBe(true);
    const records: RecordedEvent[] = [];
    for await (const r of c.store.readAll()) records.push(r);
    const audit = runner.handle('audit', records, runner.generation('audit'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The audit batch has not run inside the open transaction of the slow one.
    expect(readCheckpoint(db, 'audit')).toBeUndefined();
    release();
    expect(String(await slowRun)).toContain('reaction refused');
    expect(await audit).toBe(true);
    expect(db.inTransaction).toBe(false);
    // The slow projection kept its first event; the audit trail has every event, committed after the rollback.
    expect((db.prepare('SELECT COUNT(*) AS n FROM slow_rows').get() as { n: bigint }).n).toBe(1n);
    expect((db.prepare('SELECT COUNT(*) AS n FROM audit_events').get() as { n: bigint }).n).toBe(BigInt(records.length));
    expect(readCheckpoint(db, 'audit')?.position).toBe(records.at(-1)!.position);
    await c.close();
  });

  it('catching every projection up together reads each event once and equals catching each up alone', async () => {
    const c = await fleet();
    let reads = 0;
    const counting = new Proxy(c.store, {
      get(target, prop, receiver) {
        if (prop === 'readAll') {
          return (...args: Parameters<typeof target.readAll>) => {
            const inner = target.readAll(...args);
            return (async function* () {
              for await (const r of inner) {
                reads++;
                yield r;
              }
            })();
          };
        }
        // The embedded store's synchronous pages, which a catch-up reads when the store offers them.
        if (prop === 'readAllPagesSync') {
          return (...args: Parameters<NonNullable<typeof target.readAllPagesSync>>) => {
            const inner = target.readAllPagesSync!(...args);
            return (function* () {
              for (const page of inner) {
                reads += page.length;
                yield page;
              }
            })();
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const together = memoryDb();
    const projections = () => [auditTrail(), complianceProjection()];
    const handled = await new ProjectionRunner({ db: together, store: counting, projections: projections() }).catchUp();
    const head = Number(await c.store.headPosition());
    expect(reads).toBe(head);
    const alone = memoryDb();
    const runner = new ProjectionRunner({ db: alone, store: c.store, projections: projections() });
    let separately = 0;
    for (const name of runner.names) separately += await runner.catchUp(name);
    expect(handled).toBe(separately);
    expect(dump(together)).toEqual(dump(alone));
    await c.close();
  });
});
