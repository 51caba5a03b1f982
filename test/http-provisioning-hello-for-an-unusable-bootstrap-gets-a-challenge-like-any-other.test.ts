/**
 * Found in review (seeds 002 and 004 unobservability; SER-001): over HTTP, a provisioning hello for a revoked
 * bootstrap credential, or a node the Enrolment Function does not know, was `422 unknown_credential` where a usable
 * one was `200` with a challenge: anyone holding a Node-ID and a public fingerprint learned whether the device's
 * bootstrap was usable. Now it is `200` with a challenge of the same shape; its auth gets what a failed proof gets,
 * the holder of the revoked bootstrap is told why, and nothing is recorded. The real reason is logged at the hello.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { httpAnswer, shape, withStrangersProof } from './support/protocol-answers.ts';

let world: DeviceServiceWorld;
let usableNode: SimulatedDevice;
let revokedNode: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  // Node-IDs of one length: a challenge echoes the Node-ID, which a shape compares by length
  usableNode = await world.enrolledDevice('zz-edecoy-ok1', 'ed25519');
  revokedNode = await world.enrolledDevice('zz-edecoy-rev', 'ed25519');
  await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'zz-edecoy-rev-boot', reason: 'keyCompromise' });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** A hello of `node` and the answer to it, then the node's auth. */
const run = async (node: SimulatedDevice, credentialId: string) => {
  const { id, publicKey } = node.state.pinned.enrolmentFunction;
  const session = await node.device
    .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
    .start({ credentialKind: 'ed25519', credentialId });
  const challenge = await world.post('/v1/enrolment/hello', session.hello);
  const auth = await session.acceptChallenge(challenge.body);
  return { session, challenge, auth };
};

describe('a provisioning hello over HTTP for a bootstrap credential the Enrolment Function cannot use', () => {
  it('is 200 with a challenge shaped as a usable bootstrap\'s; a stranger\'s auth gets what a failed proof gets, the holder\'s why; nothing recorded', async () => {
    // What a real run answers: its challenge, and a stranger's auth
    const usable = await run(usableNode, 'zz-edecoy-a');
    expect(usable.challenge.status).toBe(200);
    const failedProof = httpAnswer(await world.post('/v1/enrolment/auth', withStrangersProof(usable.auth)));
    expect(failedProof).toMatchObject({ status: 422, body: { step: 'provisioning.auth', reason: 'bad_signature' } });
    await usable.session.abort();

    const infra = await world.infrastructure();
    const head = await world.head();

    // A revoked bootstrap: a challenge the node verifies as any other (the Enrolment Function's own signature)
    const revoked = await run(revokedNode, 'zz-edecoy-b');
    expect(revoked.challenge.status).toBe(200);
    expect(shape(revoked.challenge.body)).toEqual(shape(usable.challenge.body));
    expect(httpAnswer(await world.post('/v1/enrolment/auth', withStrangersProof(revoked.auth)))).toEqual(failedProof);
    await revoked.session.abort();
    const logged = world.service
      .logs()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry['msg'] === 'hello answered with a decoy challenge');
    expect(logged).toEqual([expect.objectContaining({ level: 30, step: 'provisioning.hello', reason: 'credential_revoked' })]);

    // Its holder, proving itself, is told why
    const holder = await run(revokedNode, 'zz-edecoy-c');
    const told = httpAnswer(await world.post('/v1/enrolment/auth', holder.auth));
    expect(told).toMatchObject({ status: 422, body: { step: 'provisioning.auth', reason: 'credential_revoked' } });
    await holder.session.abort();

    // A node the Enrolment Function does not know: the same challenge, the same failed proof
    const template = await run(usableNode, 'zz-edecoy-d');
    const ghost = await world.post('/v1/enrolment/hello', { ...template.session.hello, nodeId: 'zz-nobody-xyz', nodeNonce: toBase64url(randomBytes(32)) });
    expect(ghost.status).toBe(200);
    expect(shape(ghost.body)).toEqual(shape(usable.challenge.body));
    // Its auth carries a proof of possession made over another run's transcript, which is checked first on a decoy run
    // as on a real one (review 405 F1): answered as the same auth is on a real run
    const ghostAuth = { ...withStrangersProof(template.auth), sessionId: ghost.body['sessionId'] as string, enrolmentNonce: ghost.body['enrolmentNonce'] as string };
    const possessionElsewhere = { ...withStrangersProof(template.auth), credentialPublicKey: usable.auth.credentialPublicKey, proofOfPossession: usable.auth.proofOfPossession };
    const onARealRun = httpAnswer(await world.post('/v1/enrolment/auth', possessionElsewhere));
    expect(onARealRun).toMatchObject({ status: 422, body: { step: 'provisioning.auth', reason: 'bad_proof_of_possession' } });
    expect(httpAnswer(await world.post('/v1/enrolment/auth', ghostAuth))).toEqual(onARealRun);
    await template.session.abort();

    // Nothing recorded, and no run left but the four a failed proof left going (review 238: real and decoy alike),
    // which end at their expiry (a run's keys go with it: in process, the keys themselves are checked,
    // test/a-provisioning-hello-for-an-unusable-bootstrap-gets-a-challenge-like-any-other.test.ts)
    const written = await world.streamsWrittenSince(head);
    expect(written.filter((s) => /zz-edecoy|zz-nobody/.test(s))).toEqual([]);
    expect(infra.enrolmentFunction.sessionCount).toBe(4);
  });
});
