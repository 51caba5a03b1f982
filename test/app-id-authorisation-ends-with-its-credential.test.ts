import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { JsonObject } from '../domain/ports/event-store.ts';
import { causeOf, endingOf } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.2: each App-ID "is associated with a security credential which can be used to grant specific
 * authorization to application instances". Before, revoking or expiring that credential left the App-ID enrolled:
 * its AEs associated on credentials of their own as before. Now its end ends the App-ID's enrolment
 * (ApplicationEnrolmentEnded, recorded by the cascade and decided by the App-ID's machine against the credential),
 * its instances' associations are revoked with the credential's reason, and no AE associates under it until it is
 * enrolled again. A rotation moves the App-ID onto the successor instead.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const APP = 'Rbilling';
const appCredential = (credentialId: string, notAfter = at(300), extra: Record<string, unknown> = {}) =>
  cmd.issueCredential(credentialId, APP, notAfter, { purpose: 'application', owner: { kind: 'app', id: APP }, ...extra });
const enrol = (credentialId: string) => command('enrolApplication', { appId: APP, credentialId }, { actor: operator });
/** An instance of the App-ID on meter-1, authenticated by a credential issued to its own AE-ID. */
const instance = async (c: Credence, ae: string) => {
  await c.engine.execute(cmd.issueCredential(`${ae}-cred`, 'meter-1', at(200), { owner: { kind: 'ae', id: ae, appId: APP } }));
  await c.engine.execute(cmd.provisionCredential(`${ae}-cred`));
  return associate(c, ae);
};
const associate = async (c: Credence, ae: string, associationId = `sa-${ae}`) => {
  await c.engine.execute(command('configureAssociation', {
    associationId, nodeId: 'meter-1', credentialId: `${ae}-cred`, registree: { kind: 'ae', id: ae, appId: APP }, registrarCseId: '/in-cse',
  }, { actor: operator }));
  await c.engine.execute(cmd.establishAssociation(associationId));
};

/** app-cred-2 issued as app-cred-1's successor (with `extra`), provisioned, and a rotation to it started. */
const rotation = async (c: Credence, overlapEndsAt: string, notAfter = at(300), extra: Record<string, unknown> = {}) => {
  await c.engine.execute(appCredential('app-cred-2', notAfter, { predecessorId: 'app-cred-1', ...extra }));
  await c.engine.execute(cmd.provisionCredential('app-cred-2'));
  await c.engine.execute(command('startCredentialRotation', { credentialId: 'app-cred-1', successorId: 'app-cred-2', overlapEndsAt }, { actor: operator }));
  await c.settle();
};
/** The scheduler's round at `instant`, and the cascade after it. */
const tickAt = async (c: Credence, clock: FakeClock, instant: string) => {
  clock.set(instant);
  await c.tick();
  await c.settle();
};

/** meter-1 enrolled; the App-ID enrolled with app-cred-1 (valid to `notAfter`); instances Cbill1 and Cbill2 associated. */
const open = async (notAfter = at(300)) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
  await c.engine.execute(command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await c.engine.execute(appCredential('app-cred-1', notAfter));
  await c.engine.execute(cmd.provisionCredential('app-cred-1'));
  await c.engine.execute(enrol('app-cred-1'));
  await instance(c, 'Cbill1');
  await instance(c, 'Cbill2');
  await c.settle();
  return { c, clock };
};

const application = async (c: Credence) => (await c.engine.entity('application', APP)).snapshot;
const association = async (c: Credence, id: string) => {
  const { value, context } = (await c.engine.entity('association', id)).snapshot;
  return [value, context.revocationReason];
};
const applicationEvents = async (c: Credence) => (await c.store.readStream(`application-${APP}`)).map((e) => e.type);

describe("an App-ID's authorisation ends with its credential (seed 003 11.2.2)", () => {
  it('revoking the credential ends the enrolment and revokes every instance, caused by the revocation; the App-ID stays registered', async () => {
    const { c } = await open();
    expect((await application(c)).value).toBe('associated');
    const revocation = await c.engine.execute(cmd.revokeCredential('app-cred-1'));
    await c.settle();

    const app = await application(c);
    expect([app.value, app.context.credentialId]).toEqual(['initialized', undefined]);
    const ended = (await c.store.readStream(`application-${APP}`)).find((e) => e.type === 'ApplicationEnrolmentEnded')!;
    expect(ended).toMatchObject({ type: 'ApplicationEnrolmentEnded', data: { appId: APP, credentialId: 'app-cred-1', reason: 'keyCompromise' } });
    expect(ended.metadata['causationId']).toBe(revocation.events[0]!.id);
    expect(ended.metadata['actor']).toEqual({ id: 'system:process-manager', role: 'system' });
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(c, `sa-${ae}`)).toEqual(['revoked', 'keyCompromise']);
    // The instances' revocations trace back through the end of the enrolment to the credential's revocation.
    const instanceEnding = endingOf(c.readModels, 'association-sa-Cbill1')!;
    const enrolmentEnd = causeOf(c.readModels, instanceEnding);
    expect(enrolmentEnd).toMatchObject({ streamId: `application-${APP}`, type: 'ApplicationEnrolmentEnded', eventId: ended.id });
    expect(causeOf(c.readModels, enrolmentEnd!)).toMatchObject({ streamId: 'credential-app-cred-1', type: 'CredentialRevoked' });
    // The AEs' own credentials are theirs: the App-ID's end revokes access, not them.
    expect((await c.engine.entity('credential', 'Cbill1-cred')).snapshot.value).toBe('enrolled');
    // The instances were released as their associations ended.
    expect((await application(c)).context.liveInstances).toEqual([]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('no AE associates under it until it is enrolled again, and the refusal writes nothing', async () => {
    const { c } = await open();
    await c.engine.execute(cmd.revokeCredential('app-cred-1'));
    await c.settle();
    const before = await footprint(c.store);
    const error = await rejection(associate(c, 'Cbill1', 'sa-late'));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', rule: 'applicationEnrolled', attempted: 'AssociationConfigured' });
    expect(await footprint(c.store)).toEqual(before);

    await c.engine.execute(appCredential('app-cred-2'));
    await c.engine.execute(cmd.provisionCredential('app-cred-2'));
    await c.engine.execute(enrol('app-cred-2'));
    await associate(c, 'Cbill1', 'sa-again');
    await c.settle();
    expect(await association(c, 'sa-again')).toEqual(['associated', undefined]);
    expect((await application(c)).value).toBe('associated');
    // The old credential's end is over: a later event on it concerns the App-ID no more.
    expect((await applicationEvents(c)).filter((t) => t === 'ApplicationEnrolmentEnded')).toHaveLength(1);
  });

  it('the credential expiring ends it too, for cessation of operation', async () => {
    // The instances' associations run to at(30): the credential ends first.
    const { c, clock } = await open(at(20));
    clock.set(at(20));
    await c.tick();
    await c.settle();
    expect((await c.engine.entity('credential', 'app-cred-1')).snapshot.value).toBe('expired');
    expect((await application(c)).value).toBe('initialized');
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(c, `sa-${ae}`)).toEqual(['revoked', 'cessationOfOperation']);
  });

  it("an operator's end ahead of the cascade gives the credential's own reason, no other (found in review: a key compromise told as a hold)", async () => {
    const { c } = await open();
    await c.runner.stop();
    await c.engine.execute(cmd.revokeCredential('app-cred-1', 'keyCompromise'));
    const end = (reason: string) => command('endApplicationEnrolment', { appId: APP, credentialId: 'app-cred-1', reason }, { actor: operator });
    const before = await footprint(c.store);
    for (const milder of ['affiliationChanged', 'cessationOfOperation', 'superseded']) {
      expect((await rejection(c.engine.execute(end(milder)))).problem, milder).toMatchObject({ code: 'illegal_transition', rule: 'enrolledCredentialEnded' });
    }
    expect(await footprint(c.store)).toEqual(before);
    await c.engine.execute(end('keyCompromise'));
    const later = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0), store: c.store }));
    await later.settle();
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(later, `sa-${ae}`)).toEqual(['revoked', 'keyCompromise']);
  });

  it('refuses a field it does not know, so that a misspelt replaces is no unconditional move (found in review)', async () => {
    const { c } = await open();
    await c.engine.execute(appCredential('app-cred-2'));
    await c.engine.execute(cmd.provisionCredential('app-cred-2'));
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(command('enrolApplication', { appId: APP, credentialId: 'app-cred-2', replace: 'app-cred-0' }, { actor: operator })));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ rule: 'unrecognized_keys' })] });
    expect(await footprint(c.store)).toEqual(before);
    expect((await application(c)).context.credentialId).toBe('app-cred-1');
  });

  it('its machine refuses an end while the credential is in use, or for a credential it is not enrolled with, and nothing is written', async () => {
    const { c } = await open();
    await c.engine.execute(appCredential('app-cred-2'));
    await c.engine.execute(cmd.revokeCredential('app-cred-2'));
    await c.settle();
    const before = await footprint(c.store);
    const end = (credentialId: string) => command('endApplicationEnrolment', { appId: APP, credentialId, reason: 'keyCompromise' }, { actor: operator });
    expect((await rejection(c.engine.execute(end('app-cred-1')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'enrolledCredentialEnded' });
    expect((await rejection(c.engine.execute(end('app-cred-2')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'enrolledCredentialEnded' });
    expect(await footprint(c.store)).toEqual(before);
    expect((await application(c)).value).toBe('associated');
  });

  it('a rotation moves it onto the successor: its instances stay, and the successor\'s end then ends it', async () => {
    const { c, clock } = await open();
    await rotation(c, at(5));
    await tickAt(c, clock, at(5));
    expect((await c.engine.entity('credential', 'app-cred-1')).snapshot.context.revocationReason).toBe('superseded');
    const moved = await application(c);
    expect([moved.value, moved.context.credentialId]).toEqual(['associated', 'app-cred-2']);
    expect((await applicationEvents(c)).at(-1)).toBe('ApplicationEnrolled');
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(c, `sa-${ae}`)).toEqual(['associated', undefined]);

    await c.engine.execute(cmd.revokeCredential('app-cred-2'));
    await c.settle();
    expect((await application(c)).value).toBe('initialized');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('the predecessor whose overlap runs to its notAfter is superseded at that instant, not expired, and moves it too', async () => {
    const { c, clock } = await open(at(20));
    // An overlap may run to the predecessor's notAfter: the rotation's deadline is taken before the expiry due at the
    // same instant (review 139: it expired, and the handover was never recorded as a supersession).
    await rotation(c, at(20));
    await tickAt(c, clock, at(20));
    const predecessor = (await c.engine.entity('credential', 'app-cred-1')).snapshot;
    expect([predecessor.value, predecessor.context.revocationReason]).toEqual(['revoked', 'superseded']);
    const moved = await application(c);
    expect([moved.value, moved.context.credentialId]).toEqual(['associated', 'app-cred-2']);
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(c, `sa-${ae}`)).toEqual(['associated', undefined]);
  });

  it('a supersession whose successor is not held (not valid yet) is refused, writing nothing (HLR-212, review 31)', async () => {
    const { c } = await open();
    await rotation(c, at(12), at(300), { notBefore: at(10) });
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(cmd.revokeCredential('app-cred-1', 'superseded')))).problem).toMatchObject({ rule: 'handedOver' });
    expect(await footprint(c.store)).toEqual(before);
    const app = await application(c);
    expect([app.value, app.context.credentialId]).toEqual(['associated', 'app-cred-1']);
  });

  it('a supersession whose successor is no longer held when the cascade gets to it ends it, for cessation of operation', async () => {
    // Legal when recorded (the successor held), the successor revoked before any cascade ran: not one to move onto.
    const { c } = await open();
    await rotation(c, at(12), at(300));
    await c.runner.stop();
    await c.engine.execute(cmd.revokeCredential('app-cred-1', 'superseded'));
    await c.engine.execute(cmd.revokeCredential('app-cred-2', 'keyCompromise'));
    const later = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0), store: c.store }));
    await later.settle();
    const app = (await later.engine.entity('application', APP)).snapshot;
    expect([app.value, app.context.credentialId]).toEqual(['initialized', undefined]);
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(later, `sa-${ae}`)).toEqual(['revoked', 'cessationOfOperation']);
  });

  it('a move its machine refuses (the successor ended before the cascade got to it) ends it instead, and a rebuild agrees', async () => {
    const { c } = await open();
    await rotation(c, at(5), at(6));
    // The supersession is recorded while no cascade runs; by the time one catches up, the successor has expired.
    await c.runner.stop();
    await c.engine.execute(cmd.revokeCredential('app-cred-1', 'superseded'));
    const clock = new FakeClock(at(7));
    const later = (credence = openCredence({ location: { memory: true }, clock, store: c.store }));
    await later.tick();
    await later.settle();
    expect((await later.engine.entity('credential', 'app-cred-2')).snapshot.value).toBe('expired');
    const app = (await later.engine.entity('application', APP)).snapshot;
    expect([app.value, app.context.credentialId]).toEqual(['initialized', undefined]);
    expect((await rejection(associate(later, 'Cbill1', 'sa-late'))).problem).toMatchObject({ rule: 'applicationEnrolled' });
    const before = await footprint(later.store);
    await later.runner.rebuild('cascade');
    await later.settle();
    expect(await footprint(later.store)).toEqual(before);
    expect((await replayAll(later.store)).findings).toEqual([]);
  });

  it('a move its machine refuses (a successor of the App-ID that is no application credential, as machines v8 stored it) ends it instead', async () => {
    const { c, clock } = await open();
    // Since machines v9 the engine takes neither the issue nor the rotation (successorKeepsPurpose, review 238): stored
    // as v8 took them, the cascade's move onto it is still refused by the App-ID's machine.
    const issued = appCredential('app-cred-2', at(300), { predecessorId: 'app-cred-1', purpose: 'service' }).data as JsonObject;
    await forge(c.store, 'credential-app-cred-2', 'CredentialIssued', issued, T0);
    await c.engine.execute(cmd.provisionCredential('app-cred-2'));
    await forge(c.store, 'credential-app-cred-1', 'CredentialRotationStarted', { credentialId: 'app-cred-1', successorId: 'app-cred-2', overlapEndsAt: at(5) }, T0);
    await c.settle();
    await tickAt(c, clock, at(5));
    expect((await c.engine.entity('credential', 'app-cred-1')).snapshot.context.revocationReason).toBe('superseded');
    const app = await application(c);
    expect([app.value, app.context.credentialId]).toEqual(['initialized', undefined]);
    const before = await footprint(c.store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
  });

  it("a lagging cascade's move leaves an operator's decision taken meanwhile standing, and so does a rebuild later", async () => {
    for (const operatorAction of ['end', 'move'] as const) {
      const { c, clock } = await open();
      await rotation(c, at(5));
      await c.engine.execute(appCredential('app-cred-3'));
      await c.engine.execute(cmd.provisionCredential('app-cred-3'));
      await c.settle();
      await c.runner.stop();
      await c.engine.execute(cmd.revokeCredential('app-cred-1', 'superseded'));
      await c.engine.execute(
        operatorAction === 'end'
          ? command('endApplicationEnrolment', { appId: APP, credentialId: 'app-cred-1', reason: 'cessationOfOperation' }, { actor: operator })
          : enrol('app-cred-3'),
      );
      const later = (credence = openCredence({ location: { memory: true }, clock, store: c.store }));
      await later.settle();
      const expected = operatorAction === 'end' ? ['initialized', undefined] : ['associated', 'app-cred-3'];
      const app = (await later.engine.entity('application', APP)).snapshot;
      expect([app.value, app.context.credentialId]).toEqual(expected);
      const before = await footprint(later.store);
      clock.set(at(6));
      await later.runner.rebuild('cascade');
      await later.settle();
      expect(await footprint(later.store)).toEqual(before);
      await later.close();
      credence = undefined;
    }
  });

  it('an operator may move it onto another credential of its own, after which the first one\'s end leaves it enrolled', async () => {
    const { c } = await open();
    await c.engine.execute(appCredential('app-cred-2'));
    await c.engine.execute(cmd.provisionCredential('app-cred-2'));
    await c.engine.execute(enrol('app-cred-2'));
    await c.engine.execute(cmd.revokeCredential('app-cred-1'));
    await c.settle();
    const app = await application(c);
    expect([app.value, app.context.credentialId]).toEqual(['associated', 'app-cred-2']);
    // Moving onto the credential it is enrolled with already, or onto one that is not the App-ID's, is refused.
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(enrol('app-cred-2')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'credentialReplacesCurrent' });
    expect((await rejection(c.engine.execute(enrol('Cbill1-cred')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'credentialIsForThisApp' });
    expect(await footprint(c.store)).toEqual(before);
  });

  it('rebuilding the cascade from 0 changes nothing', async () => {
    const { c } = await open();
    await c.engine.execute(cmd.revokeCredential('app-cred-1'));
    await c.settle();
    const before = await footprint(c.store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);
  });

  it('a cascade catching up from 0 (as after the upgrade that brought this rule) ends an App-ID whose credential ended before', async () => {
    const { c } = await open();
    // The credential revoked while no cascade ran, as a log written before this rule holds it.
    await c.runner.stop();
    await c.engine.execute(cmd.revokeCredential('app-cred-1'));
    expect((await application(c)).value).toBe('associated');
    const later = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0), store: c.store }));
    await later.settle();
    expect((await later.engine.entity('application', APP)).snapshot.value).toBe('initialized');
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(later, `sa-${ae}`)).toEqual(['revoked', 'keyCompromise']);
    expect((await replayAll(later.store)).findings).toEqual([]);
  });
});

/*
 * Review 31: an enrolled App-ID moved by an operator onto another of its credentials after the one it was enrolled with
 * was revoked for a key compromise, ahead of the cascade: the move was accepted, the cascade's end of the enrolment
 * was then refused (not the current credential any more), and every instance kept its association. A move now leaves
 * only a credential that stands, or one superseded (the rotation's handover): the App-ID's machine reads it.
 */
describe('an App-ID moves only off a credential that stands or was superseded (seed 003 11.2.2)', () => {
  const move = () => command('enrolApplication', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' }, { actor: operator });
  const secondCredential = async (c: Credence) => {
    await c.engine.execute(appCredential('app-cred-2'));
    await c.engine.execute(cmd.provisionCredential('app-cred-2'));
  };

  it('refuses a move off a credential revoked for a key compromise ahead of the cascade, which then revokes every instance with that reason', async () => {
    const { c } = await open();
    await secondCredential(c);
    await c.runner.stop();
    await c.engine.execute(cmd.revokeCredential('app-cred-1', 'keyCompromise'));
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(move()))).problem).toMatchObject({ code: 'illegal_transition', rule: 'currentCredentialHandsOver' });
    expect(await footprint(c.store)).toEqual(before);
    const later = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0), store: c.store }));
    await later.settle();
    expect((await later.engine.entity('application', APP)).snapshot.value).toBe('initialized');
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(later, `sa-${ae}`)).toEqual(['revoked', 'keyCompromise']);
    expect((await replayAll(later.store)).findings).toEqual([]);
  });

  it('refuses a move off a credential that expired with no rotation to the new one, and still moves off one that stands', async () => {
    const { c } = await open(at(20));
    await secondCredential(c);
    await c.engine.execute(move());
    expect((await application(c)).context.credentialId).toBe('app-cred-2');
    for (const ae of ['Cbill1', 'Cbill2']) expect(await association(c, `sa-${ae}`)).toEqual(['associated', undefined]);
    await c.close();

    const { c: other, clock } = await open(at(20));
    await secondCredential(other);
    await other.runner.stop();
    clock.set(at(20));
    await other.engine.execute(command('expireCredential', { credentialId: 'app-cred-1' }, { actor: operator }));
    const before = await footprint(other.store);
    expect((await rejection(other.engine.execute(move()))).problem).toMatchObject({ code: 'illegal_transition', rule: 'currentCredentialHandsOver' });
    expect(await footprint(other.store)).toEqual(before);
  });

  it('replay flags a stored move off a credential revoked for a key compromise', async () => {
    const { c } = await open();
    await secondCredential(c);
    await c.runner.stop();
    await c.engine.execute(cmd.revokeCredential('app-cred-1', 'keyCompromise'));
    const forged = await forge(c.store, `application-${APP}`, 'ApplicationEnrolled', { appId: APP, credentialId: 'app-cred-2', replaces: 'app-cred-1' }, at(1));
    expect((await replayAll(c.store)).findings.map((f) => [f.position, f.reason])).toEqual([
      [forged.position, expect.stringMatching(
        /^ApplicationEnrolled refused in state associated by rule currentCredentialHandsOver: App-ID Rbilling moves off credential app-cred-1 .*; credential app-cred-1 is revoked as keyCompromise$/,
      )],
    ]);
  });
});
