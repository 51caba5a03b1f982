import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { complianceProjection, provisionedUnder } from '../projections/compliance/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { configureAeInstance, enrolledApplication } from './support/credential-holders.ts';

/*
 * Seed 003 11.2.1 (credentials provisioned while their node was enrolled under an M2M Service Subscription), review
 * 48. Pre-provisioning issues and provisions an AE's credential before the AE's first association: at the provisioning
 * no event had named the App-ID's instance under the AE-ID, so the `provisioned` query never listed it. It waits for
 * the first association naming the instance, and counts under that node's enrolment then.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const instance = configureAeInstance;
const aeCredential = (credentialId: string) => cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } });

/** meter-1 under sub-1; RA enrolled; `steps` run on that fleet. */
const fleet = async (steps: (c: Credence) => Promise<void>): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await enrolledApplication(c.engine, 'RA');
  await steps(c);
  await c.settle();
  return c;
};

const listed = (c: Credence) => provisionedUnder(c.readModels, 'sub-1').map((r) => [r.credentialId, r.nodeId]);

describe('an AE credential provisioned before its instance\'s first association counts under that association\'s node', () => {
  it('issue, provision, configure, establish on meter-1: listed under sub-1, at its provisioning', async () => {
    const c = await fleet(async (c) => {
      await c.engine.execute(aeCredential('ra-ae'));
      await c.engine.execute(cmd.provisionCredential('ra-ae'));
      await c.engine.execute(instance('sa-1', 'ra-ae', 'meter-1'));
      await c.engine.execute(cmd.establishAssociation('sa-1'));
    });
    expect(listed(c)).toEqual([['ra-ae', 'meter-1']]);
    const [row] = provisionedUnder(c.readModels, 'sub-1');
    // The provisioning's own position (its status moved there), not the association's.
    const { status_position: provisionedAt } = c.readModels.prepare("SELECT status_position FROM compliance_credentials WHERE credential_id = 'ra-ae'").get() as { status_position: bigint };
    expect(BigInt(row!.position)).toBe(BigInt(provisionedAt));
    expect(c.readModels.prepare('SELECT * FROM compliance_pending_provisionings').all()).toEqual([]);
  });

  it('one revoked before any association named its instance is never listed', async () => {
    const c = await fleet(async (c) => {
      await c.engine.execute(aeCredential('ra-ae'));
      await c.engine.execute(cmd.provisionCredential('ra-ae'));
      await c.engine.execute(command('revokeCredential', { credentialId: 'ra-ae', reason: 'keyCompromise' }, { actor: operator }));
      await c.engine.execute(aeCredential('ra-ae-2'));
      await c.engine.execute(cmd.provisionCredential('ra-ae-2'));
      await c.engine.execute(instance('sa-1', 'ra-ae-2', 'meter-1'));
      await c.engine.execute(cmd.establishAssociation('sa-1'));
    });
    expect(listed(c)).toEqual([['ra-ae-2', 'meter-1']]);
  });

  it('a catch-up in one batch and one event at a time write the same rows', async () => {
    const c = await fleet(async (c) => {
      await c.engine.execute(aeCredential('ra-ae'));
      await c.engine.execute(cmd.provisionCredential('ra-ae'));
      await c.engine.execute(instance('sa-1', 'ra-ae', 'meter-1'));
      await c.engine.execute(cmd.establishAssociation('sa-1'));
    });
    const catchUp = async (batchSize: number): Promise<unknown[]> => {
      const db = new Database(':memory:');
      db.defaultSafeIntegers(true);
      await new ProjectionRunner({ db, store: c.store, projections: [complianceProjection()], batchSize }).catchUp();
      return db.prepare('SELECT * FROM compliance_provisioned ORDER BY 1').all();
    };
    const single = await catchUp(1);
    expect(single).toHaveLength(1);
    expect(await catchUp(10_000)).toEqual(single);
  });
});

/**
 * Review 49: the typo. meter-2 and meter-3 enrolled under sub-1 too; ra-ae issued and provisioned; sa-3 configured on
 * meter-3 (a typo) and revoked, never established; sa-2 configured on meter-2 and established: the instance runs there.
 */
const typoOnMeter3 = async (c: Credence): Promise<void> => {
  for (const x of [cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-3')]) await c.engine.execute(x);
  await c.engine.execute(aeCredential('ra-ae'));
  await c.engine.execute(cmd.provisionCredential('ra-ae'));
  await c.engine.execute(instance('sa-3', 'ra-ae', 'meter-3'));
  await c.engine.execute(cmd.revokeAssociation('sa-3', 'cessationOfOperation'));
  await c.engine.execute(instance('sa-2', 'ra-ae', 'meter-2'));
  await c.engine.execute(cmd.establishAssociation('sa-2'));
};

describe('it counts under the node of its instance\'s first established association, as the cascade links it (review 49)', () => {
  it('the typo: listed under meter-2, where the instance ran, never meter-3, where it was only configured', async () => {
    const c = await fleet(typoOnMeter3);
    expect(listed(c)).toEqual([['ra-ae', 'meter-2']]);
    expect(c.readModels.prepare('SELECT * FROM compliance_pending_provisionings').all()).toEqual([]);
  });

  it('configured only, it waits: not listed until an association of the instance is established', async () => {
    const c = await fleet(async (c) => {
      await c.engine.execute(aeCredential('ra-ae'));
      await c.engine.execute(cmd.provisionCredential('ra-ae'));
      await c.engine.execute(instance('sa-1', 'ra-ae', 'meter-1'));
    });
    expect(listed(c)).toEqual([]);
    await c.engine.execute(cmd.establishAssociation('sa-1'));
    await c.settle();
    expect(listed(c)).toEqual([['ra-ae', 'meter-1']]);
  });

  it('provisioned once the instance runs on meter-2, it counts there, not under a later typo\'s node', async () => {
    const c = await fleet(async (c) => {
      await typoOnMeter3(c);
      await c.engine.execute(instance('sa-4', 'ra-ae', 'meter-3'));
      await c.engine.execute(aeCredential('ra-ae-2'));
      await c.engine.execute(cmd.provisionCredential('ra-ae-2'));
    });
    expect(listed(c)).toEqual([['ra-ae', 'meter-2'], ['ra-ae-2', 'meter-2']]);
  });

  it('a catch-up of the typo in one batch and one event at a time write the same rows', async () => {
    const c = await fleet(typoOnMeter3);
    const catchUp = async (batchSize: number): Promise<Record<string, unknown[]>> => {
      const db = new Database(':memory:');
      db.defaultSafeIntegers(true);
      await new ProjectionRunner({ db, store: c.store, projections: [complianceProjection()], batchSize }).catchUp();
      const tables = ['compliance_provisioned', 'compliance_pending_provisionings', 'compliance_identifiers', 'compliance_associations'];
      return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));
    };
    const single = await catchUp(1);
    expect(single['compliance_provisioned']!.map((r) => (r as { node_id: string }).node_id)).toEqual(['meter-2']);
    expect(await catchUp(10_000)).toEqual(single);
  });
});
