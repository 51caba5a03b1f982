/**
 * Found in review (seed 002 unobservability; SER-001): over HTTP, a provisioning hello naming a node whose bootstrap
 * credential was revoked was answered `422 credential_revoked (sha256:…)`, and the same hello naming no node
 * `422 unknown_credential`: anyone holding a Node-ID and its public fingerprint learned that the device was revoked.
 * Both are now the same answer; the real reason is in the service's log, at info. Found later: a refusal, whatever it
 * says, against a challenge for a usable credential, still told that; both hellos now get a (decoy) challenge.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
let revoked: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  revoked = await world.enrolledDevice('zz-disc', 'ed25519');
  await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'zz-disc-boot', reason: 'keyCompromise' });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** The service's JSON log lines that record a concealed refusal (`msg`: what the peer was told instead). */
const concealedInLog = (msg: string) =>
  world.service
    .logs()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['msg'] === msg);

describe('a hello for a credential its sender cannot use, over HTTP', () => {
  it('a revoked node and a node that does not exist both get a challenge, and only the log says which', async () => {
    const { id, publicKey } = revoked.state.pinned.enrolmentFunction;
    const session = await revoked.device
      .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'ed25519', credentialId: 'zz-disc-svc' });
    const ofRevoked = await world.post('/v1/enrolment/hello', session.hello);
    // A nonce of its own: the first hello's run is pending (a challenge), so its nonce would be a replay.
    const ofNobody = await world.post('/v1/enrolment/hello', { ...session.hello, nodeId: 'zz-nobody', nodeNonce: toBase64url(randomBytes(32)) });
    await session.abort();

    // Not even refused (adapters/protocols/shared/decoy.ts): both a challenge, of the same shape.
    expect(ofRevoked).toMatchObject({ status: 200, body: { type: 'provisioning.challenge' } });
    expect(ofNobody).toMatchObject({ status: 200, body: { type: 'provisioning.challenge' } });
    expect(Object.keys(ofRevoked.body).sort()).toEqual(Object.keys(ofNobody.body).sort());
    expect(JSON.stringify(ofRevoked.body)).not.toContain(session.hello.bootstrap.fingerprint);

    const logged = concealedInLog('hello answered with a decoy challenge').filter((entry) => entry['step'] === 'provisioning.hello');
    expect(logged).toEqual([
      expect.objectContaining({ level: 30, step: 'provisioning.hello', reason: 'credential_revoked' }),
      expect.objectContaining({ level: 30, step: 'provisioning.hello', reason: 'unknown_credential' }),
    ]);
    expect(String(logged[0]!['detail'])).toContain(session.hello.bootstrap.fingerprint);
  });

  it('an association hello for an association that is not this credential\'s gets a decoy challenge, logged with its reason', async () => {
    const registrar = revoked.state.pinned.registrar;
    // Any key the device holds will do: the Registrar answers before any proof, from the association alone.
    revoked.device.credentials.set('zz-any', revoked.device.bootstrap!);
    const registree = revoked.device.registree('zz-any', '/zz-disc-cse', { id: registrar.id, key: registrar.publicKey });
    const handshake = await registree.start({ lifetimeSeconds: 3600, associationId: 'zz-sa-nowhere' });
    const answered = await world.post('/v1/registrar/associations/zz-sa-nowhere/hello', handshake.hello);
    await handshake.abort();
    // A challenge like any other (adapters/protocols/shared/decoy.ts): 200 or 422 would tell whether it is usable.
    expect(answered).toMatchObject({ status: 200, body: { type: 'association.challenge' } });
    expect(concealedInLog('hello answered with a decoy challenge').filter((entry) => entry['step'] === 'association.hello')).toEqual([
      expect.objectContaining({ level: 30, step: 'association.hello', reason: 'unknown_credential' }),
    ]);
  });
});
