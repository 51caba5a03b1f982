import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 249 (lows, reproduced), wording only: the machines decide as before.
 * (4) Past app-cred-1's notAfter, before the expiry scheduler's tick recorded CredentialExpired, endApplicationEnrolment
 * was refused "credential app-cred-1 is enrolled": nothing said that its validity had passed and that it ends, and the
 * enrolment with it, once the scheduler records it.
 * (5) configureAssociation for an AE of App-ID Rnone, never registered, on a credential of Rbilling's was refused
 * "credential … is owned by app:Rbilling" (credentialBelongsToRegistree, which decides before applicationEnrolled),
 * never saying that Rnone is not recorded.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';

/** meter-1 enrolled, the App-ID enrolled with app-cred-1, valid to day 30. */
const open = async () => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await c.engine.execute(command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await c.engine.execute(cmd.issueCredential('app-cred-1', APP, at(30), { purpose: 'application', owner: { kind: 'app', id: APP } }));
  await c.engine.execute(cmd.provisionCredential('app-cred-1'));
  await c.engine.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-1' }, { actor: operator }));
  await c.settle();
  return { c, clock };
};

describe('an App-ID refusal names what the user is waiting for or missing (review 249)', () => {
  it('ending the enrolment past its credential\'s notAfter, before the expiry is recorded, names the window and says it ends when recorded', async () => {
    const { c, clock } = await open();
    clock.set(at(31));
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(command('endApplicationEnrolment', { appId: APP, credentialId: 'app-cred-1', reason: 'cessationOfOperation' }, { actor: operator })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'enrolled', attempted: 'ApplicationEnrolmentEnded', rule: 'enrolledCredentialEnded' });
    expect(error.message).toContain(`credential app-cred-1 is enrolled, valid from ${T0} to ${at(30)}, and this is ${at(31)}: its validity has passed`);
    expect(error.message).toContain('it ends when the expiry scheduler records its expiry (CredentialExpired)');
    expect(error.message).toContain('the enrolment can end then, as cessationOfOperation');
    expect(await footprint(c.store)).toEqual(before);
    // What it says holds: the scheduler's tick records the expiry, and the enrolment ends with it.
    await c.tick();
    await c.settle();
    expect((await c.engine.entity('credential', 'app-cred-1')).snapshot.value).toBe('expired');
    expect((await c.engine.entity('application', APP)).snapshot.value).toBe('initialized');
  });

  it('ending it while its credential is inside its validity names no window', async () => {
    const { c } = await open();
    const error = await rejection(c.engine.execute(command('endApplicationEnrolment', { appId: APP, credentialId: 'app-cred-1', reason: 'cessationOfOperation' }, { actor: operator })));
    expect(error.message).toMatch(/; credential app-cred-1 is enrolled$/);
  });

  it('configuring an AE association under an App-ID never registered says so, from the rule that refuses first', async () => {
    const { c } = await open();
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(command('configureAssociation', {
      associationId: 'sa-none', nodeId: 'meter-1', credentialId: 'app-cred-1', registree: { kind: 'ae', id: 'Cnone1', appId: 'Rnone' }, registrarCseId: '/in-cse',
    }, { actor: operator })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', attempted: 'AssociationConfigured', rule: 'credentialBelongsToRegistree' });
    expect(error.message).toContain('credential app-cred-1 is owned by app:Rbilling');
    expect(error.message).toContain('App-ID Rnone is not recorded');
    expect(await footprint(c.store)).toEqual(before);
  });
});
