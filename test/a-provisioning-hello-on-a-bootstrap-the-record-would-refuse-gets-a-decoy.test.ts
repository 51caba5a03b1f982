/**
 * Seed 003 11.2.1 and HLR-212, left from review 26 (as e99fb74 closed it for the association hello): the credential
 * machine records a remote provisioning only on a bootstrap credential usable at that instant (rule bootstrapIsUsable,
 * `credentialUsableAt`: provisioned, not ended, inside [notBefore, notAfter), not a rotation's predecessor past its
 * overlap, the node's own), yet the Enrolment Function's hello read the bootstrap's state by a rule of its own
 * (`isWithdrawn`): a bootstrap issued at the factory but never recorded as provisioned, one whose rotation's overlap
 * had ended before the expiry scheduler recorded the handover, or one the node names but another node owns, ran its
 * run to the receipt and was refused only when recorded (409 illegal_transition). The hello now asks the machine's own rule at the engine's instant:
 * such a hello gets a decoy challenge, shaped as a usable bootstrap's, a stranger's auth gets a failed proof, the
 * holder is told why at its auth, and nothing is recorded. A bootstrap past its notAfter, the scheduler not having
 * marked it expired, gets the same; until then it provisions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import type { CredenceError } from '../domain/errors.ts';
import { EnrolmentEndpoint, type Device } from '../adapters/protocols/procedures/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, placeholderKey, profile, T0 } from './support/fleet.ts';
import { shape, told, withStrangersProof } from './support/protocol-answers.ts';
import { restartableWorld, type RestartableWorld } from './support/restartable-world.ts';

let world: RestartableWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** meter-1's bootstrap ends at day 10; meter-2's, the usable one every answer is compared with, at day 100. */
const BOOTSTRAP_ENDS = at(10);

const enrol = (w: RestartableWorld, nodeId: string) =>
  w.credence.engine.execute(command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, { actor: operator }));

/** A node registered at the factory with an ed25519 bootstrap `${nodeId}-boot` (recorded as provisioned), enrolled under sub-1. */
const factory = async (w: RestartableWorld, nodeId: string, notAfter: string): Promise<Device> => {
  const device = w.device(nodeId);
  await w.procedures.preProvision({ device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter } });
  await enrol(w, nodeId);
  return device;
};

const open = async (seed: string) => {
  const w = (world = await restartableWorld(seed));
  const usable = await factory(w, 'meter-2', at(100));
  return { w, usable };
};

/** The Enrolment Function driven one message at a time, as over HTTP: a run's hello, challenge and the device's auth. */
const enrolmentFunctionOf = (w: RestartableWorld) => {
  const endpoint = new EnrolmentEndpoint(w.infrastructure);
  const run = async (device: Device, credentialId: string) => {
    const client = device.provisioningClient({
      id: w.infrastructure.enrolmentFunctionId,
      publicKey: { kind: w.infrastructure.signing.kind, bytes: w.infrastructure.signing.efPublicKey },
    });
    const session = await client.start({ credentialKind: 'ed25519', credentialId });
    const concealed: CredenceError[] = [];
    const challenge = await endpoint.acceptHello(session.hello, {}, undefined, (refusal) => concealed.push(refusal));
    const auth = await session.acceptChallenge(challenge);
    // What the service's log was told at the hello: the real reason behind the decoy.
    const logged = concealed.map((r) => ((r.cause as CredenceError | undefined)?.problem as { reason?: string } | undefined)?.reason);
    return { session, challenge, auth, logged };
  };
  return { endpoint, run };
};

/**
 * Given `device`'s bootstrap the record would refuse now: its hello is answered as a usable bootstrap's (meter-2's), a
 * stranger's auth as a failed proof, its holder is told `reason` at the auth, in process too, and nothing is recorded.
 */
const expectDecoy = async (w: RestartableWorld, usable: Device, device: Device, reason: string) => {
  const credentialId = `${device.nodeId}-svc`;
  const { endpoint, run } = enrolmentFunctionOf(w);
  const before = await footprint(w.credence.store);

  // What a usable bootstrap's run answers: its challenge, and a stranger's auth
  const real = await run(usable, 'meter-2-svc');
  const failedProof = await told(() => endpoint.acceptAuth(withStrangersProof(real.auth)));
  expect(failedProof.problem).toMatchObject({ step: 'provisioning.auth' });
  await real.session.abort();

  // When a hello on its bootstrap comes
  const stranger = await run(device, credentialId);
  // Then the service's log is told why, the challenge is shaped as a usable one's, and a stranger's auth gets a failed proof
  expect(stranger.logged).toEqual([reason]);
  expect(shape(stranger.challenge)).toEqual(shape(real.challenge));
  expect(await told(() => endpoint.acceptAuth(withStrangersProof(stranger.auth)))).toEqual(failedProof);
  await stranger.session.abort();
  // and its holder, proving itself, is told why at the auth, before any key is made for a credential
  const holder = await run(device, credentialId);
  expect((await told(() => endpoint.acceptAuth(holder.auth))).problem).toMatchObject({ step: 'provisioning.auth', reason });
  await holder.session.abort();
  // as it is when the run is in process
  await expect(w.procedures.provisionRemotely({ device, credentialId, kind: 'ed25519' })).rejects.toMatchObject({
    problem: expect.objectContaining({ step: 'provisioning.auth', reason }),
  });

  // And nothing was recorded, and no run is left but the two a stranger's failed proof left going (review 238: the
  // usable one's and the decoy's alike), which end at their expiry
  expect(await footprint(w.credence.store)).toEqual(before);
  expect((await w.credence.engine.entity('credential', credentialId)).events).toEqual([]);
  expect(w.infrastructure.enrolmentFunction.sessionCount).toBe(2);
};

describe('a provisioning hello on a bootstrap credential the record would refuse (seed 003 11.2.1, rule bootstrapIsUsable)', () => {
  it("provisions remotely just before the bootstrap's notAfter", async () => {
    const { w } = await open('bootstrap-before-not-after');
    const meter1 = await factory(w, 'meter-1', BOOTSTRAP_ENDS);
    w.clock.set(new Date(Date.parse(BOOTSTRAP_ENDS) - 1_000));
    await w.procedures.provisionRemotely({ device: meter1, credentialId: 'meter-1-svc', kind: 'ed25519' });
    expect(String((await w.credence.engine.entity('credential', 'meter-1-svc')).snapshot.value)).toBe('enrolled');
  });

  it("gets a decoy from the bootstrap's notAfter, before anything marked it expired; its holder is told credential_expired; nothing recorded", async () => {
    const { w, usable } = await open('bootstrap-at-not-after');
    const meter1 = await factory(w, 'meter-1', BOOTSTRAP_ENDS);
    w.clock.set(BOOTSTRAP_ENDS);
    expect(String((await w.credence.engine.entity('credential', 'meter-1-boot')).snapshot.value)).toBe('enrolled');
    await expectDecoy(w, usable, meter1, 'credential_expired');
  });

  it('gets a decoy on a bootstrap issued at the factory but never recorded as provisioned; its holder is told credential_revoked; nothing recorded', async () => {
    const { w, usable } = await open('bootstrap-never-provisioned');
    const meter1 = w.device('meter-1');
    const bootstrap = await meter1.generateBootstrap('ed25519', { notBefore: T0, notAfter: BOOTSTRAP_ENDS });
    await w.credence.engine.execute(command('registerNode', { nodeId: 'meter-1', profile, bootstrapCredentialId: 'meter-1-boot' }, { actor: operator }));
    const { descriptor } = bootstrap;
    if (descriptor.kind === 'psk256') throw new Error('an ed25519 bootstrap');
    await w.credence.engine.execute(command('issueCredential', {
      credentialId: 'meter-1-boot', kind: 'ed25519', purpose: 'bootstrap', owner: { kind: 'node', id: 'meter-1' },
      fingerprint: descriptor.fingerprint, publicKey: descriptor.publicKey, notBefore: T0, notAfter: BOOTSTRAP_ENDS,
    }, { actor: operator }));
    await enrol(w, 'meter-1');
    expect(String((await w.credence.engine.entity('credential', 'meter-1-boot')).snapshot.value)).toBe('initialized');
    await expectDecoy(w, usable, meter1, 'credential_revoked');
  });

  it("gets a decoy on a bootstrap rotation's predecessor once its overlap ended, before the scheduler recorded the handover; its holder is told credential_revoked; nothing recorded", async () => {
    const { w, usable } = await open('bootstrap-overlap-ended');
    const meter1 = await factory(w, 'meter-1', BOOTSTRAP_ENDS);
    // A successor bootstrap, provisioned at the factory, and a rotation onto it whose overlap ends at day 5. Since review
    // 290 no successor of a node's registered factory credential is issued (factoryCredentialNotRotated), and the hello
    // looks up only the registered one, so this is a history stored before machines v11: its issue as that version
    // recorded it, straight into the store; the provisioning and the rotation are legal still.
    await forge(w.credence.store, 'credential-meter-1-boot-2', 'CredentialIssued', {
      credentialId: 'meter-1-boot-2', kind: 'ed25519', ...placeholderKey('meter-1-boot-2'), purpose: 'bootstrap',
      owner: { kind: 'node', id: 'meter-1' }, notBefore: T0, notAfter: at(100), predecessorId: 'meter-1-boot',
    }, T0);
    await w.credence.engine.execute(cmd.provisionCredential('meter-1-boot-2'));
    await w.credence.engine.execute(cmd.startCredentialRotation(at(5), 'meter-1-boot', 'meter-1-boot-2'));
    // Until the overlap ends the predecessor still provisions
    w.clock.set(new Date(Date.parse(at(5)) - 1_000));
    await w.procedures.provisionRemotely({ device: meter1, credentialId: 'meter-1-early', kind: 'ed25519' });
    expect(String((await w.credence.engine.entity('credential', 'meter-1-early')).snapshot.value)).toBe('enrolled');
    // From its end, inside the predecessor's validity, the scheduler not having revoked it as superseded
    w.clock.set(at(5));
    expect(String((await w.credence.engine.entity('credential', 'meter-1-boot')).snapshot.value)).toBe('enrolled');
    await expectDecoy(w, usable, meter1, 'credential_revoked');
  });

  it("gets a decoy on a bootstrap the node names but another node owns (the guard's same owner); its holder is told credential_revoked; nothing recorded", async () => {
    const { w, usable } = await open('bootstrap-of-another-node');
    // meter-3 registered naming a bootstrap recorded as meter-4's, though meter-3's device holds its key. Since review
    // 288 a node's bootstrap is the one it registered with (bootstrapNamedByItsNode), and since review 290 one that
    // registered a bootstrap is issued no successor of it (factoryCredentialNotRotated): meter-4 registered naming
    // none, and meter-3-boot is issued to it after meter-3 named it (no index of named ids refuses that).
    const meter3 = w.device('meter-3');
    const { descriptor } = await meter3.generateBootstrap('ed25519', { notBefore: T0, notAfter: BOOTSTRAP_ENDS });
    if (descriptor.kind === 'psk256') throw new Error('an ed25519 bootstrap');
    await w.credence.engine.execute(command('registerNode', { nodeId: 'meter-3', profile, bootstrapCredentialId: 'meter-3-boot' }, { actor: operator }));
    await w.credence.engine.execute(command('registerNode', { nodeId: 'meter-4', profile }, { actor: operator }));
    await w.credence.engine.execute(command('issueCredential', {
      credentialId: 'meter-3-boot', kind: 'ed25519', purpose: 'bootstrap', owner: { kind: 'node', id: 'meter-4' },
      fingerprint: descriptor.fingerprint, publicKey: descriptor.publicKey, notBefore: T0, notAfter: BOOTSTRAP_ENDS,
    }, { actor: operator }));
    await w.credence.engine.execute(cmd.provisionCredential('meter-3-boot'));
    await enrol(w, 'meter-3');
    await expectDecoy(w, usable, meter3, 'credential_revoked');
  });
});
