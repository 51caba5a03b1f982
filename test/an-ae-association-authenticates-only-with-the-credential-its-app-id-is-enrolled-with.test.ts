import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { configureAeInstance } from './support/credential-holders.ts';
import { at, cmd, footprint, issueCredentialData, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 249 (A). Seed 003 11.2.2: "each application identified by an App-ID is then associated with a security
 * credential", and README says an App-ID's authorisation is the credential it is enrolled with. Yet for an AE
 * Registree credentialBelongsToRegistree took any credential owned by `app:<App-ID>`: (P1) one of purpose service,
 * which `application enrol` refuses; (P2) one of purpose application the App-ID was never enrolled with; (P3) the one
 * it was moved off by `enrolApplication --replaces`. Each configured, and established, AE associations. Machines v10
 * (appCredentialIsEnrolled): an App-ID's credential authenticates its AEs only if it is of purpose application and the
 * one the App-ID is enrolled with now, at configuration and again at establishment; each refusal writes nothing.
 */

const APP = 'RA';
const RULE = 'appCredentialIsEnrolled';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const appCredential = (credentialId: string, purpose = 'application') =>
  cmd.issueCredential(credentialId, APP, at(300), { purpose, owner: { kind: 'app', id: APP } });
const enrol = (credentialId: string, replaces?: string) =>
  command('enrolApplication', { appId: APP, credentialId, ...(replaces !== undefined ? { replaces } : {}) }, { actor: operator });

/** meter-1 enrolled, App-ID RA registered and enrolled with app-cred-1 (provisioned); app-cred-2 of RA issued and provisioned, never enrolled. */
const world = async (clock = new FakeClock(T0)) => {
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  for (const x of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }),
    appCredential('app-cred-1'), cmd.provisionCredential('app-cred-1'), enrol('app-cred-1'),
    appCredential('app-cred-2'), cmd.provisionCredential('app-cred-2'),
  ]) await c.engine.execute(x);
  return c;
};

/** The refusal of `x`, after checking it wrote nothing. */
const refused = async (c: Credence, x: Parameters<Credence['engine']['execute']>[0]) => {
  const before = await footprint(c.store);
  const error = await rejection(c.engine.execute(x));
  expect(await footprint(c.store)).toEqual(before);
  return error;
};

describe('an AE association authenticates only with the credential its App-ID is enrolled with (review 249, seed 003 11.2.2)', () => {
  it('P1: refuses a credential of purpose service owned by the App-ID (stored before v10), writing nothing', async () => {
    const c = await world();
    // Issuing it is refused since v10 (purposeFitsOwner); one an earlier version stored still loads.
    await forge(c.store, 'credential-svc-cred', 'CredentialIssued', { ...issueCredentialData('svc-cred', APP, { notBefore: T0, notAfter: at(300) }), owner: { kind: 'app', id: APP } }, T0);
    await c.engine.execute(cmd.provisionCredential('svc-cred'));
    const error = await refused(c, configureAeInstance('sa-svc', 'svc-cred', 'meter-1', APP));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', attempted: 'AssociationConfigured', rule: RULE });
    expect(error.message).toContain('credential svc-cred has purpose service');
    expect(error.message).toContain('App-ID RA is enrolled with credential app-cred-1');
  });

  it('P2: refuses a credential of purpose application the App-ID was never enrolled with, writing nothing', async () => {
    const c = await world();
    const error = await refused(c, configureAeInstance('sa-2', 'app-cred-2', 'meter-1', APP));
    expect(error.problem).toMatchObject({ rule: RULE });
    expect(error.message).toMatch(/; credential app-cred-2 is not the one App-ID RA is enrolled with, and App-ID RA is enrolled with credential app-cred-1$/);
    // The one it is enrolled with configures and establishes, and replay finds nothing to flag.
    await c.engine.execute(configureAeInstance('sa-1', 'app-cred-1', 'meter-1', APP));
    expect((await c.engine.execute(cmd.establishAssociation('sa-1'))).state).toBe('associated');
    await c.settle();
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('P3: refuses the credential the App-ID was moved off, at configuration and at establishment, writing nothing', async () => {
    const c = await world();
    await c.engine.execute(configureAeInstance('sa-1', 'app-cred-1', 'meter-1', APP));
    await c.engine.execute(enrol('app-cred-2', 'app-cred-1'));
    const handshake = await refused(c, cmd.establishAssociation('sa-1'));
    expect(handshake.problem).toMatchObject({ attempted: 'AssociationEstablished', rule: RULE });
    expect(handshake.message).toContain('App-ID RA is enrolled with credential app-cred-2');
    const configure = await refused(c, configureAeInstance('sa-3', 'app-cred-1', 'meter-1', APP));
    expect(configure.problem).toMatchObject({ attempted: 'AssociationConfigured', rule: RULE });
    // The credential it moved onto authenticates its AEs.
    await c.engine.execute(configureAeInstance('sa-4', 'app-cred-2', 'meter-1', APP));
    expect((await c.engine.execute(cmd.establishAssociation('sa-4'))).state).toBe('associated');
  });

  it('refuses a credential that names the enrolled one its predecessor while no rotation names it (review 255)', async () => {
    const c = await world();
    await c.engine.execute(cmd.issueCredential('app-cred-9', APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP }, predecessorId: 'app-cred-1' }));
    await c.engine.execute(cmd.provisionCredential('app-cred-9'));
    const error = await refused(c, configureAeInstance('sa-9', 'app-cred-9', 'meter-1', APP));
    expect(error.problem).toMatchObject({ attempted: 'AssociationConfigured', rule: RULE });
    expect(error.message).toContain('its predecessor is app-cred-1');
    expect(error.message).toContain('no rotation of credential app-cred-1 stands');
  });

  it("takes the enrolled credential's successor during its rotation's overlap, and the App-ID moves onto it at the handover (review 254)", async () => {
    const clock = new FakeClock(T0);
    const c = await world(clock);
    await c.engine.execute(cmd.issueCredential('app-cred-3', APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP }, predecessorId: 'app-cred-1' }));
    await c.engine.execute(cmd.provisionCredential('app-cred-3'));
    await c.engine.execute(command('startCredentialRotation', { credentialId: 'app-cred-1', successorId: 'app-cred-3', overlapEndsAt: at(20) }, { actor: operator }));
    // Not app-cred-2, issued to RA but as no one's successor.
    expect((await refused(c, configureAeInstance('sa-2', 'app-cred-2', 'meter-1', APP))).problem).toMatchObject({ rule: RULE });
    // Nor app-cred-4, which names app-cred-1 its predecessor too, but which the rotation does not name (review 255).
    await c.engine.execute(cmd.issueCredential('app-cred-4', APP, at(300), { purpose: 'application', owner: { kind: 'app', id: APP }, predecessorId: 'app-cred-1' }));
    await c.engine.execute(cmd.provisionCredential('app-cred-4'));
    const notNamed = await refused(c, configureAeInstance('sa-4', 'app-cred-4', 'meter-1', APP));
    expect(notNamed.problem).toMatchObject({ rule: RULE });
    expect(notNamed.message).toContain('the rotation of credential app-cred-1 names credential app-cred-3');
    await c.engine.execute(configureAeInstance('sa-3', 'app-cred-3', 'meter-1', APP));
    expect((await c.engine.execute(cmd.establishAssociation('sa-3'))).state).toBe('associated');
    clock.set(at(21));
    await c.tick();
    await c.settle();
    expect((await c.engine.entity('application', APP)).snapshot.context.credentialId).toBe('app-cred-3');
    expect((await c.engine.entity('association', 'sa-3')).snapshot.value).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
