import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { complianceProjection, provisionedUnder } from '../projections/compliance/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { enrolledApplication } from './support/credential-holders.ts';

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

const instance = (associationId: string, credentialId: string, nodeId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'ae', id: 'Cx', appId: 'RA' }, registrarCseId: '/in-cse' }, { actor: operator });
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
    });
    expect(listed(c)).toEqual([['ra-ae-2', 'meter-1']]);
  });

  it('a catch-up in one batch and one event at a time write the same rows', async () => {
    const c = await fleet(async (c) => {
      await c.engine.execute(aeCredential('ra-ae'));
      await c.engine.execute(cmd.provisionCredential('ra-ae'));
      await c.engine.execute(instance('sa-1', 'ra-ae', 'meter-1'));
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
