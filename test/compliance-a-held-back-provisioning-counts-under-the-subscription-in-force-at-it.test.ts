import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { provisionedUnder } from '../projections/compliance/index.ts';
import { enrolledApplication } from './support/credential-holders.ts';
import { cmd, T0 } from './support/fleet.ts';
import { aeCredential, establishInstance, meterUnderSub1, provisioned } from './support/held-back-provisionings.ts';

/*
 * Seed 003 11.2.1, review 101: a credential provisioned while its node was enrolled under a subscription is listed
 * under that one. A provisioning held back until its node was known took the enrolment in force when the node became
 * known instead, so a re-enrolment in between (a change of subscription, RS-17) credited it to the later subscription.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const listed = (c: Credence, subscriptionId: string) => provisionedUnder(c.readModels, subscriptionId).map((r) => [r.credentialId, r.nodeId]);
const positionOf = (c: Credence, sql: string): bigint => (c.readModels.prepare(sql).pluck().get() as bigint);

describe('a held-back provisioning counts under the subscription its node was enrolled under at the provisioning', () => {
  it('meter-1 re-enrolled under sub-2 between the provisioning and the association: listed under sub-1, citing that enrolment', async () => {
    const c = (credence = await meterUnderSub1());
    await c.settle();
    const enrolledUnderSub1 = positionOf(c, "SELECT position FROM compliance_enrolments WHERE node_id = 'meter-1'");
    await provisioned(c, aeCredential('ra-ae-1'), 'ra-ae-1');
    await c.engine.execute(cmd.createSubscription('sub-2'));
    await c.engine.execute(cmd.enrolNode('meter-1', 'sub-2'));
    await establishInstance(c);
    await c.settle();

    expect(listed(c, 'sub-1')).toEqual([['ra-ae-1', 'meter-1']]);
    expect(listed(c, 'sub-2')).toEqual([]);
    expect(provisionedUnder(c.readModels, 'sub-1')[0]!.enrolmentPosition).toBe(enrolledUnderSub1);
  });

  it('meter-1 enrolled only after the provisioning: provisioned under no subscription, so listed under none', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode()]) await c.engine.execute(x);
    await enrolledApplication(c.engine, 'RA');
    await provisioned(c, aeCredential('ra-ae-1'), 'ra-ae-1');
    await c.engine.execute(cmd.enrolNode());
    await establishInstance(c);
    await c.settle();

    expect(listed(c, 'sub-1')).toEqual([]);
    // Settled, it waits no more: a later association does not list it either.
    expect(c.readModels.prepare('SELECT * FROM compliance_pending_provisionings').all()).toEqual([]);
  });
});
