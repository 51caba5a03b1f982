/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): over HTTP, an association hello for a revoked
 * credential, or one the Registrar does not know, was `422 unknown_credential` where a usable one was `200` with a
 * challenge: anyone holding a Registree id and a public fingerprint learned whether the credential was usable. Now
 * it is `200` with a challenge of the same shape; its finish gets what a failed proof gets, the holder of a
 * credential the Registrar knows is told why, and nothing is recorded. The real reason is logged at the hello.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { httpAnswer, shape, withStrangersProof } from './support/protocol-answers.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('zz-decoy', 'ed25519');
  const transport = httpDeviceTransport(world.service.url);
  for (const id of ['zz-decoy-usable', 'zz-decoy-revoked']) {
    await provisionOverHttp(transport, sim.device, { credentialId: id, kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction });
  }
  await world.configure('zz-sa-usable', sim, 'zz-decoy-usable');
  await world.configure('zz-sa-revoked', sim, 'zz-decoy-revoked');
  await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'zz-decoy-revoked', reason: 'keyCompromise' });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const path = (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
const registree = (credentialId: string) =>
  sim.device.registree(credentialId, sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });

/** A hello and the answer to it, for `credentialId` at `associationId`, then the registree's finish if it can make one. */
const run = async (credentialId: string, associationId: string) => {
  const handshake = await registree(credentialId).start({ lifetimeSeconds: 3600, associationId });
  const challenge = await world.post(path(associationId, 'hello'), handshake.hello);
  const { finish } = await handshake.acceptChallenge(challenge.body);
  return { handshake, challenge, finish };
};

describe('an association hello over HTTP for a credential the Registrar cannot use', () => {
  it('is 200 with a challenge shaped as a usable credential\'s; a stranger\'s finish gets what a failed proof gets, the holder\'s why; nothing recorded', async () => {
    // What a real run answers: its challenge, and a stranger's finish
    const usable = await run('zz-decoy-usable', 'zz-sa-usable');
    expect(usable.challenge.status).toBe(200);
    const failedProof = httpAnswer(await world.post(path('zz-sa-usable', 'finish'), withStrangersProof(usable.finish)));
    expect(failedProof).toMatchObject({ status: 422, body: { step: 'association.finish', reason: 'bad_signature' } });
    await usable.handshake.abort();

    const infra = await world.infrastructure();
    const head = await world.head();

    // A revoked credential: a challenge the Registree verifies as any other (the Registrar's own signature)
    const revoked = await run('zz-decoy-revoked', 'zz-sa-revoked');
    expect(revoked.challenge.status).toBe(200);
    expect(shape(revoked.challenge.body)).toEqual(shape(usable.challenge.body));
    expect(httpAnswer(await world.post(path('zz-sa-revoked', 'finish'), withStrangersProof(revoked.finish)))).toEqual(failedProof);
    await revoked.handshake.abort();
    const logged = world.service
      .logs()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry['msg'] === 'hello answered with a decoy challenge');
    expect(logged).toEqual([expect.objectContaining({ level: 30, step: 'association.hello', reason: 'credential_revoked' })]);

    // Its holder, proving itself, is told why
    const holder = await run('zz-decoy-revoked', 'zz-sa-revoked');
    const told = httpAnswer(await world.post(path('zz-sa-revoked', 'finish'), holder.finish));
    expect(told).toMatchObject({ status: 422, body: { step: 'association.finish', reason: 'credential_revoked' } });
    await holder.handshake.abort();

    // A credential the Registrar does not know (an association not configured): the same challenge, the same failed proof, even for its holder
    const unknown = await run('zz-decoy-usable', 'zz-sa-nowhere');
    expect(unknown.challenge.status).toBe(200);
    expect(shape(unknown.challenge.body)).toEqual(shape(usable.challenge.body));
    expect(httpAnswer(await world.post(path('zz-sa-nowhere', 'finish'), withStrangersProof(unknown.finish)))).toEqual(failedProof);
    await unknown.handshake.abort();
    const unknownHolder = await run('zz-decoy-usable', 'zz-sa-nowhere');
    expect(httpAnswer(await world.post(path('zz-sa-nowhere', 'finish'), unknownHolder.finish))).toEqual(failedProof);
    await unknownHolder.handshake.abort();

    // Nothing recorded, and no run left but the four a failed proof left going (review 238: real and decoy alike),
    // which end at their expiry (a run's keys go with it: in process, the keys themselves are checked,
    // test/an-association-hello-for-an-unusable-credential-gets-a-challenge-like-any-other.test.ts)
    const written = await world.streamsWrittenSince(head);
    expect(written.filter((s) => /zz-sa|zz-decoy/.test(s))).toEqual([]);
    expect(infra.registrar.sessionCount).toBe(4);
  });
});
