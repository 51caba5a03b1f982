import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { provisionedUnder } from '../projections/compliance/index.ts';
import { enrolledApplication } from './support/credential-holders.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { aeCredential, establishInstance, meterUnderSub1, provisioned } from './support/held-back-provisionings.ts';
import { commandRecordedByAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';

/*
 * Review 155, seed 003 11.2.1: `provisioned` lists the credentials provisioned while their node was enrolled under the
 * subscription. The credential machine holds a provisioning to a serving subscription only for a node's service
 * credential, so an AE-ID's credential or a node's bootstrap one could be provisioned after the subscription was
 * terminated, or past its notAfter, before the process manager recorded the node's enrolment expiry: the read model,
 * which followed the enrolment alone, listed them under the subscription that had ended.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const listed = (c: Credence, subscriptionId: string) => provisionedUnder(c.readModels, subscriptionId).map((r) => r.credentialId);
const bootstrap = (credentialId: string) => cmd.issueCredential(credentialId, 'meter-1', at(10), { purpose: 'bootstrap' });
const terminate = (subscriptionId = 'sub-1') => command('terminateSubscription', { subscriptionId, reason: 'contract ended' }, { actor: operator });
const types = async (c: Credence): Promise<string[]> => {
  const out: string[] = [];
  for await (const e of c.store.readAll()) out.push(`${e.type} ${String(e.data['credentialId'] ?? e.data['nodeId'] ?? e.data['subscriptionId'] ?? '')}`);
  return out;
};

describe('provisioned lists nothing provisioned after its subscription ended', () => {
  it('an AE-ID credential and a bootstrap credential provisioned after the termination, before the enrolment expired, are not listed', async () => {
    const c = (credence = await meterUnderSub1());
    await provisioned(c, aeCredential('ra-ae-1'), 'ra-ae-1');
    await establishInstance(c);
    for (const x of [aeCredential('ra-ae-2'), bootstrap('boot-1')]) await c.engine.execute(x);
    await c.settle();
    await c.engine.execute(terminate());
    // Before the process manager records meter-1's enrolment expiry: the machine lets both be provisioned.
    await c.engine.execute(cmd.provisionCredential('ra-ae-2'));
    await c.engine.execute(cmd.provisionCredential('boot-1'));
    await c.settle();

    const log = await types(c);
    expect(log.indexOf('SubscriptionTerminated sub-1')).toBeLessThan(log.indexOf('CredentialProvisioned ra-ae-2'));
    expect(log.indexOf('CredentialProvisioned boot-1')).toBeLessThan(log.indexOf('NodeEnrolmentExpired meter-1'));
    expect(listed(c, 'sub-1')).toEqual(['ra-ae-1']);
  });

  it('a bootstrap credential provisioned past the notAfter, before the expiry was recorded, is not listed', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of [cmd.createSubscription('sub-1', at(3)), cmd.registerNode(), cmd.enrolNode(), bootstrap('boot-1'), bootstrap('boot-2')]) await c.engine.execute(x);
    await c.engine.execute(cmd.provisionCredential('boot-1'));
    clock.set(at(4));
    await c.engine.execute(cmd.provisionCredential('boot-2'));
    await c.settle();
    expect(listed(c, 'sub-1')).toEqual(['boot-1']);
    // The expiry recorded later changes nothing.
    await c.engine.execute(command('expireSubscription', { subscriptionId: 'sub-1' }, { actor: operator }));
    await c.settle();
    expect(listed(c, 'sub-1')).toEqual(['boot-1']);
  });

  it('a held-back provisioning made after the termination is not listed when its node becomes known', async () => {
    const c = (credence = await meterUnderSub1());
    await c.engine.execute(aeCredential('ra-ae-1'));
    await c.settle();
    await c.engine.execute(terminate());
    // Held back: no association of RA's instance under Cx is established yet, so its node is not known.
    await c.engine.execute(cmd.provisionCredential('ra-ae-1'));
    // meter-1 moves to sub-2 (RS-17) before the process manager expires its enrolment, and the instance is established.
    // Machines v7 refuse that move (currentSubscriptionServes, review 234); a store an earlier version wrote may hold it.
    await c.engine.execute(cmd.createSubscription('sub-2'));
    await commandRecordedByAnEarlierVersion(c.store, { ...cmd.enrolNode('meter-1', 'sub-2'), metadata: { actor: operator, commandId: crypto.randomUUID() } });
    await establishInstance(c);
    await c.settle();

    expect(c.readModels.prepare('SELECT * FROM compliance_pending_provisionings').all()).toEqual([]);
    expect(listed(c, 'sub-1')).toEqual([]);
    expect(listed(c, 'sub-2')).toEqual([]);
  });

  it('still lists what was provisioned while the subscription was in force', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
    await enrolledApplication(c.engine, 'RA');
    await provisioned(c, cmd.issueCredential('cred-1', 'meter-1'), 'cred-1');
    await c.engine.execute(terminate());
    await c.settle();
    expect(listed(c, 'sub-1')).toEqual(['cred-1']);
  });
});
