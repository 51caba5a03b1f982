/**
 * Found in review (seed 002 unobservability; SER-001): over HTTP, a provisioning hello naming a node whose bootstrap
 * credential was revoked was answered `422 credential_revoked (sha256:…)`, and the same hello naming no node
 * `422 unknown_credential`: anyone holding a Node-ID and its public fingerprint learned that the device was revoked.
 * Both are now the same answer; the real reason is in the service's log, at info.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/index.ts';
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

/** A problem document without what differs between any two requests (its id). */
const answer = (response: Awaited<ReturnType<DeviceServiceWorld['post']>>) => {
  const { requestId: _id, ...rest } = response.body;
  return { status: response.status, body: rest };
};

/** The service's JSON log lines that record a concealed refusal (`msg`: what the peer was told instead). */
const concealedInLog = (msg = 'hello refused as unknown_credential') =>
  world.service
    .logs()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['msg'] === msg);

describe('a hello for a credential its sender cannot use, over HTTP', () => {
  it('a revoked node and a node that does not exist get the same answer, and only the log says which', async () => {
    const { id, publicKey } = revoked.state.pinned.enrolmentFunction;
    const session = await revoked.device
      .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'ed25519', credentialId: 'zz-disc-svc' });
    const ofRevoked = await world.post('/v1/enrolment/hello', session.hello);
    const ofNobody = await world.post('/v1/enrolment/hello', { ...session.hello, nodeId: 'zz-nobody' });
    await session.abort();

    expect(answer(ofRevoked)).toEqual(answer(ofNobody));
    expect(answer(ofRevoked)).toMatchObject({
      status: 422,
      body: { step: 'provisioning.hello', reason: 'unknown_credential', detail: 'provisioning.hello rejected: unknown_credential' },
    });
    expect(JSON.stringify(ofRevoked.body)).not.toContain(session.hello.bootstrap.fingerprint);

    const logged = concealedInLog().filter((entry) => entry['reqId'] === ofRevoked.body['requestId']);
    expect(logged).toEqual([expect.objectContaining({ level: 30, step: 'provisioning.hello', reason: 'credential_revoked' })]);
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
    // A challenge like any other (adapters/protocols/association/decoy.ts): 200 or 422 would tell whether it is usable.
    expect(answered).toMatchObject({ status: 200, body: { type: 'association.challenge' } });
    expect(concealedInLog('hello answered with a decoy challenge')).toEqual([
      expect.objectContaining({ level: 30, step: 'association.hello', reason: 'unknown_credential' }),
    ]);
  });
});
