import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Credence } from '../adapters/runtime/index.ts';
import { complianceProjection, provisionedUnder } from '../projections/compliance/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { establishInstance, meterUnderSub1, twoHeldBackBetweenTwoOrdinary } from './support/held-back-provisionings.ts';

/*
 * Review 101 changed what a `provisioned` row holds (`listed_position`) and added the enrolment history: a read model
 * version 7 built has neither, and a row it held back sits at its provisioning. It is dropped and built again.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** The compliance read model of `c` as version 7 left it: checkpoint at the head, provisioned rows without a listing. */
const builtByVersion7 = async (c: Credence): Promise<Database.Database> => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  await new ProjectionRunner({ db, store: c.store, projections: [complianceProjection()], batchSize: 10_000 }).catchUp();
  db.exec(`DROP TABLE compliance_enrolment_history;
    CREATE TABLE old_provisioned AS SELECT credential_id, subscription_id, node_id, method, position, enrolment_position, occurred_at FROM compliance_provisioned;
    DROP TABLE compliance_provisioned;
    ALTER TABLE old_provisioned RENAME TO compliance_provisioned;
    UPDATE projection_schemas SET version = 7 WHERE name = 'compliance'`);
  return db;
};

describe('a compliance read model version 7 built', () => {
  it('is rebuilt from the log when opened: its held-back rows listed after those a pager passed', async () => {
    const c = (credence = await meterUnderSub1());
    await twoHeldBackBetweenTwoOrdinary(c);
    await establishInstance(c);
    await c.settle();
    const db = await builtByVersion7(c);

    await new ProjectionRunner({ db, store: c.store, projections: [complianceProjection()], batchSize: 10_000 }).catchUp();
    expect(db.prepare("SELECT version FROM projection_schemas WHERE name = 'compliance'").pluck().get()).toBe(12n);
    expect(provisionedUnder(db, 'sub-1').map((r) => r.credentialId)).toEqual(['cred-1', 'cred-2', 'ra-ae-1', 'ra-ae-2']);
    expect(provisionedUnder(db, 'sub-1')).toEqual(provisionedUnder(c.readModels, 'sub-1'));
    db.close();
  });
});
