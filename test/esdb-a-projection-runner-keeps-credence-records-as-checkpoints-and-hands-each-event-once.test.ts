import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openEventStoreDbStore } from '../adapters/driven/store/eventstoredb/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { isOwnStream } from '../domain/own-record.ts';
import { ProjectionRunner, readCheckpoint, type Projection } from '../projections/runtime/index.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { cmd, T0 } from './support/fleet.ts';
import { standInTeardown } from './support/stand-in-teardown.ts';

/*
 * Review 179: a read model's checkpoint was the record of $all it handled last, another application's included; once
 * that record was scavenged the next catch-up (a restart) and a dropped subscription were refused by the server ("an
 * invalid position") for good. Checkpoints now sit on Credence's records, and other applications' are passed over.
 */

const { startStandIn, hold } = standInTeardown();

/** Rows keyed by position, every event type: an event applied twice fails the insert. */
const rows: Projection = {
  name: 'rows',
  setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS rows_seen (position INTEGER PRIMARY KEY)'),
  reset: (db) => db.exec('DELETE FROM rows_seen'),
  apply: (db, e) => void db.prepare('INSERT INTO rows_seen VALUES (?)').run(e.record.position),
};

const count = (db: Database.Database): bigint => (db.prepare('SELECT COUNT(*) AS n FROM rows_seen').get() as { n: bigint }).n;

const foreignRecord = (standIn: StandIn, streamId: string): bigint => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success' || appended.position === undefined) throw new Error('the foreign record was not appended');
  return appended.position;
};

/** The Credence events of the stand-in's $all that a projection applies (its records of entity streams). */
const credenceEvents = (standIn: StandIn): bigint => BigInt(standIn.log.all.filter((e) => isOwnStream(e.streamId) && !e.streamId.startsWith('credence-command-') && !e.type.startsWith('$')).length);

const open = async () => {
  const standIn = await startStandIn();
  const store = hold(openEventStoreDbStore(standIn.connectionString));
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  hold({ close: () => db.close() });
  return { standIn, store, engine, db };
};

describe('a projection runner on EventStoreDB shared with an application that scavenges its records', () => {
  it('keeps its checkpoint on a Credence record and catches up after the scavenge, each event applied once', async () => {
    const { standIn, store, engine, db } = await open();
    await engine.execute(cmd.createSubscription());
    const orders = `orders-${randomUUID()}`;
    const foreign = foreignRecord(standIn, orders);
    expect(await new ProjectionRunner({ db, store, projections: [rows] }).catchUp()).toBeGreaterThan(0);
    const kept = readCheckpoint(db, 'rows')!;
    expect(kept.position).toBeLessThan(foreign);
    expect(kept.occurredAt).not.toBe('');

    standIn.log.scavenge(orders);
    foreignRecord(standIn, `orders-${randomUUID()}`);
    await engine.execute(cmd.registerNode('meter-1'));
    // A restart: a new runner on the same read model.
    const again = new ProjectionRunner({ db, store, projections: [rows] });
    expect(await again.checkLog()).toEqual([]);
    await again.catchUp();
    expect(count(db)).toBe(credenceEvents(standIn));
    expect((await again.lag('rows')).eventsBehind).toBe(0);
  });

  it('follows live past a scavenged record of another application when its subscription drops', async () => {
    const { standIn, store, engine, db } = await open();
    await engine.execute(cmd.createSubscription());
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({ db, store, projections: [rows], onError: (_name, error) => errors.push(error) });
    await runner.start();
    try {
      const orders = `orders-${randomUUID()}`;
      const foreign = foreignRecord(standIn, orders);
      // Delivered to the runner (its subscription has seen the foreign record) before it is scavenged.
      const seenAll = async (): Promise<void> => {
        for (let i = 0; i < 200 && readCheckpoint(db, 'rows')?.position !== standIn.log.all.findLast((e) => isOwnStream(e.streamId))?.position; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      await seenAll();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(readCheckpoint(db, 'rows')!.position).toBeLessThan(foreign);
      standIn.log.scavenge(orders);
      standIn.dropSubscriptions('unavailable');

      await engine.execute(cmd.registerNode('meter-2'));
      const head = standIn.log.all.findLast((e) => isOwnStream(e.streamId))!.position;
      for (let i = 0; i < 500 && readCheckpoint(db, 'rows')?.position !== head; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(readCheckpoint(db, 'rows')?.position).toBe(head);
      expect(count(db)).toBe(credenceEvents(standIn));
      expect(errors).toEqual([]);
    } finally {
      await runner.stop();
    }
  });
});
