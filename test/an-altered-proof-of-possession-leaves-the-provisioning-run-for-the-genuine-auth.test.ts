/**
 * Found in review 274: the provisioning auth's proof covers every field but `proof` and `proofOfPossession`, so a copy
 * of a node's auth with only its proof of possession altered passed the proof check, used the run's replay nonce and
 * a runs-per-claimant slot (`rememberAuthenticatedRun`), and was then refused `bad_proof_of_possession`, ending the run:
 * the node's genuine auth got `unknown_session`. The proof of possession is now checked before the run is remembered,
 * and a copy whose proof of possession does not check is a failed proof that keeps the run (failed-proofs.ts), counted
 * against its bound as the others are. So is a PSK run's auth with a proof of possession added on the path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/index.ts';
import { MAX_FAILED_PROOFS } from '../adapters/protocols/shared/failed-proofs.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-pop', 'ed25519');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** A signature with one base64url character changed: still well formed, no longer the node's. */
const altered = (signature: string): string => `${signature.slice(0, 5)}${signature[5] === 'A' ? 'B' : 'A'}${signature.slice(6)}`;

const client = () => {
  const { id, publicKey } = sim.state.pinned.enrolmentFunction;
  return sim.device.provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } });
};
const credentialEvents = async (credentialId: string) =>
  (await world.service.service.context.credence.engine.entity('credential', credentialId)).events.map((e) => e.event.type);

describe('a copy of a provisioning auth altered where its proof does not reach leaves the run for the genuine auth', () => {
  it('ed25519: the copy with its proof of possession altered is 422 bad_proof_of_possession; the genuine auth is delivered and the run completes', async () => {
    // Given a node's run whose auth an attacker on its network has seen
    const session = await client().start({ credentialKind: 'ed25519', credentialId: 'c-pop' });
    const challenge = await world.post('/v1/enrolment/hello', session.hello);
    expect(challenge.status).toBe(200);
    const auth = await session.acceptChallenge(challenge.body);
    expect(auth.proofOfPossession).toBeDefined();

    // When it sends a copy with one character of the proof of possession changed, ahead of the node's
    const refused = await world.post('/v1/enrolment/auth', { ...auth, proofOfPossession: altered(auth.proofOfPossession!) });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ step: 'provisioning.auth', reason: 'bad_proof_of_possession' });

    // Then the node's genuine auth is delivered, and its receipt records the credential
    const delivery = await world.post('/v1/enrolment/auth', auth);
    expect(delivery.status).toBe(200);
    const { receipt } = await session.acceptDelivery(delivery.body);
    expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(201);
    expect(await credentialEvents('c-pop')).toContain('CredentialProvisioned');
  });

  it('psk256: the copy with a proof of possession added is refused, and the genuine auth is delivered', async () => {
    const session = await client().start({ credentialKind: 'psk256', credentialId: 'c-pop-psk' });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    const refused = await world.post('/v1/enrolment/auth', { ...auth, proofOfPossession: auth.proof });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ step: 'provisioning.auth', reason: 'unsupported' });
    const delivery = await world.post('/v1/enrolment/auth', auth);
    expect(delivery.status).toBe(200);
    const { receipt } = await session.acceptDelivery(delivery.body);
    expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(201);
  });

  it(`the copies count against the run's failed proofs: the ${MAX_FAILED_PROOFS}rd ends it, nothing recorded`, async () => {
    const session = await client().start({ credentialKind: 'ed25519', credentialId: 'c-pop-ends' });
    const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
    for (let i = 0; i < MAX_FAILED_PROOFS; i++) {
      const refused = await world.post('/v1/enrolment/auth', { ...auth, proofOfPossession: altered(auth.proofOfPossession!) });
      expect(refused.body).toMatchObject({ step: 'provisioning.auth', reason: 'bad_proof_of_possession' });
    }
    expect((await world.post('/v1/enrolment/auth', auth)).body).toMatchObject({ step: 'provisioning.auth', reason: 'unknown_session' });
    await session.abort();
    expect(await credentialEvents('c-pop-ends')).toEqual([]);
  });
});
