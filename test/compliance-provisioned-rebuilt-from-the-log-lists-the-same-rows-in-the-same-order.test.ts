import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { complianceProjection, provisionedUnder } from '../projections/compliance/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { at, cmd } from './support/fleet.ts';
import { establishInstance, meterUnderSub1, provisioned, twoHeldBackBetweenTwoOrdinary } from './support/held-back-provisionings.ts';

/*
 * Review 101: a held-back row is listed at the event that settled it and counts under the enrolment in force at its
 * provisioning. Both depend only on the log, so a read model rebuilt from position 0, whatever its batches, lists
 * the same rows in the same order as the one kept live.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const rebuilt = async (c: Credence, batchSize: number): Promise<Database.Database> => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  await new ProjectionRunner({ db, store: c.store, projections: [complianceProjection()], batchSize }).catchUp();
  return db;
};

describe('`provisioned` rebuilt from the log', () => {
  it('lists the same rows in the same order as the live read model, for any batch size', async () => {
    const c = (credence = await meterUnderSub1());
    await twoHeldBackBetweenTwoOrdinary(c);
    // A change of subscription before the settling event: the held-back rows still count under sub-1.
    await c.engine.execute(cmd.createSubscription('sub-2'));
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await establishInstance(c);
    await provisioned(c, cmd.issueCredential('cred-3', 'meter-1', at(90)), 'cred-3');
    await c.settle();

    const live = { 'sub-1': provisionedUnder(c.readModels, 'sub-1'), 'sub-2': provisionedUnder(c.readModels, 'sub-2') };
    expect(live['sub-1'].map((r) => r.credentialId)).toEqual(['cred-1', 'cred-2', 'ra-ae-1', 'ra-ae-2']);
    expect(live['sub-2'].map((r) => r.credentialId)).toEqual(['cred-3']);
    for (const batchSize of [1, 3, 10_000]) {
      const db = await rebuilt(c, batchSize);
      expect({ 'sub-1': provisionedUnder(db, 'sub-1'), 'sub-2': provisionedUnder(db, 'sub-2') }, `batch size ${batchSize}`).toEqual(live);
      db.close();
    }
  });
});
