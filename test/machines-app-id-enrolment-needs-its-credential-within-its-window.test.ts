import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.2, found in adversarial review 26: an App-ID "is associated with a security credential", and its
 * authorisation ends with it. A first enrolment checked only the credential's state, so an App-ID was enrolled with a
 * credential at or past its notAfter (before the expiry scheduler marked it expired), while a move onto another
 * credential already checked its validity window. Every enrolment now takes a credential inside [notBefore, notAfter)
 * at the command's instant (rule credentialWithinItsWindow): not one ended by time, nor one not valid yet, which the
 * App-ID could not use now.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const appCredential = (credentialId: string, notAfter: string, notBefore = T0) =>
  command('issueCredential', {
    ...cmd.issueCredential(credentialId, APP, notAfter).data,
    purpose: 'application', owner: { kind: 'app', id: APP }, notBefore, notAfter,
  }, { actor: operator });
const enrol = (credentialId: string) => command('enrolApplication', { appId: APP, credentialId }, { actor: operator });

/** The App-ID registered and app-cred-1 issued (valid from `notBefore` to `notAfter`), at T0. */
const open = async (notAfter: string, notBefore = T0) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  await c.engine.execute(command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await c.engine.execute(appCredential('app-cred-1', notAfter, notBefore));
  return { c, clock };
};

describe("an App-ID is enrolled only with a credential inside its validity window (seed 003 11.2.2)", () => {
  it('refuses a first enrolment at the credential\'s notAfter, writing nothing', async () => {
    const { c, clock } = await open(at(10));
    clock.set(at(10));
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(enrol('app-cred-1')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'ApplicationEnrolled', rule: 'credentialWithinItsWindow' });
    expect(await footprint(c.store)).toEqual(before);
    expect((await c.engine.entity('application', APP)).snapshot.value).toBe('initialized');
  });

  it('refuses one before the credential\'s notBefore, and takes it from then on', async () => {
    const { c, clock } = await open(at(90), at(5));
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(enrol('app-cred-1')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'credentialWithinItsWindow' });
    expect(await footprint(c.store)).toEqual(before);
    clock.set(at(5));
    await c.engine.execute(enrol('app-cred-1'));
    expect((await c.engine.entity('application', APP)).snapshot).toMatchObject({ value: 'enrolled', context: { credentialId: 'app-cred-1' } });
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('takes one just before the notAfter', async () => {
    const { c, clock } = await open(at(10));
    clock.set(new Date(Date.parse(at(10)) - 1));
    await c.engine.execute(enrol('app-cred-1'));
    expect((await c.engine.entity('application', APP)).snapshot.value).toBe('enrolled');
  });

  it('replay flags a stored first enrolment at the credential\'s notAfter', async () => {
    const { c } = await open(at(10));
    const forged = await forge(c.store, `application-${APP}`, 'ApplicationEnrolled', { appId: APP, credentialId: 'app-cred-1' }, at(10));
    const reason = expect.stringMatching(
      /^ApplicationEnrolled refused in state initialized by rule credentialWithinItsWindow: App-ID Rbilling .*; credential app-cred-1 is valid from .* to 2026-01-11T00:00:00\.000Z, and this is 2026-01-11T00:00:00\.000Z$/,
    );
    expect((await replayAll(c.store)).findings.map((f) => [f.position, f.reason])).toEqual([[forged.position, reason]]);
    expect((await replayEntity(c.store, `application-${APP}`)).verdict).toEqual({
      ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('credentialWithinItsWindow') })],
    });
  });
});
