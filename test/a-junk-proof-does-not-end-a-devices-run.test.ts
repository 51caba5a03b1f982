/**
 * Review 238 (medium/low): anyone who saw a challenge could end the run from any address with a junk proof. The steps
 * check the session id, the nonce and (the receipt) the new credential's fingerprint before the proof, all sent in
 * the clear, and a failed proof ended the run: a junk auth, receipt or finish (a signature of 'A' x 86) made the
 * device's own message `unknown_session`, and for a PSK delivery took the delivered PSK's copy with it, what review
 * 224 meant to prevent. Now a failed proof leaves the run going, its transcript as it was, up to MAX_FAILED_PROOFS (3)
 * per run: the third ends it, as the first did before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpDeviceTransport, provisionOverHttp } from '../adapters/client/device/index.ts';
import { MAX_FAILED_PROOFS } from '../adapters/protocols/shared/failed-proofs.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

const JUNK_SIGNATURE = 'A'.repeat(86);
const JUNK_MAC = 'A'.repeat(43);

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-jp', 'ed25519');
  await provisionOverHttp(httpDeviceTransport(world.service.url), sim.device, {
    credentialId: 'svc-jp', kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction,
  });
  for (const id of ['sa-jp-once', 'sa-jp-bound']) await world.configure(id, sim, 'svc-jp');
}, 120_000);
afterAll(() => world?.close());

const pinnedEf = () => {
  const { id, publicKey } = sim.state.pinned.enrolmentFunction;
  return { id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } };
};
const refused = (step: string, reason: string) => ({ status: 422, body: { type: 'https://credence.dev/problems/protocol', step, reason } });
const path = (associationId: string, step: 'hello' | 'finish') => `/v1/registrar/associations/${associationId}/${step}`;
const registree = () => sim.device.registree('svc-jp', sim.device.cseId!, { id: sim.state.pinned.registrar.id, key: sim.state.pinned.registrar.publicKey });
const recordedFingerprint = async (credentialId: string) =>
  ((await world.service.service.context.credence.engine.entity('credential', credentialId)).snapshot.context as { fingerprint?: string } | null)?.fingerprint;

describe('a junk proof from whoever saw the run', () => {
  it('a junk receipt after a PSK\'s delivery is refused, and the node\'s genuine receipt is then recorded', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'psk256', credentialId: 'c-jp-psk' });
    try {
      const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
      const delivery = await world.post('/v1/enrolment/auth', auth);
      expect(delivery.status).toBe(200);
      const { receipt, result } = await session.acceptDelivery(delivery.body);
      // All an observer needs is in the clear: the session id, the delivered credential's fingerprint, a time.
      const junk = { ...receipt, bootstrapProof: JUNK_SIGNATURE, credentialProof: JUNK_MAC };
      // The new credential's proof is checked first (review 405 F1): a PSK's, a MAC.
      expect(await world.post('/v1/enrolment/receipt', junk)).toMatchObject(refused('provisioning.receipt', 'bad_mac'));
      expect((await world.post('/v1/enrolment/receipt', receipt)).status).toBe(201);
      expect(await recordedFingerprint('c-jp-psk')).toBe(result.credential.fingerprint);
    } finally {
      await session.abort();
    }
  });

  it('a junk auth is refused, and the node\'s genuine auth is then answered', async () => {
    const session = await sim.device.provisioningClient(pinnedEf()).start({ credentialKind: 'ed25519', credentialId: 'c-jp-auth' });
    try {
      const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
      expect(await world.post('/v1/enrolment/auth', { ...auth, proof: JUNK_SIGNATURE })).toMatchObject(refused('provisioning.auth', 'bad_signature'));
      expect((await world.post('/v1/enrolment/auth', auth)).status).toBe(200);
    } finally {
      await session.abort();
    }
  });

  it('a junk finish is refused, and the Registree\'s genuine finish then establishes', async () => {
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-jp-once' });
    try {
      const { finish } = await handshake.acceptChallenge((await world.post(path('sa-jp-once', 'hello'), handshake.hello)).body);
      expect(await world.post(path('sa-jp-once', 'finish'), { ...finish, proof: JUNK_SIGNATURE })).toMatchObject(refused('association.finish', 'bad_signature'));
      const confirm = await world.post(path('sa-jp-once', 'finish'), finish);
      expect(confirm.status).toBe(201);
      await handshake.acceptConfirm(confirm.body);
    } finally {
      await handshake.abort();
    }
  });

  it(`the ${MAX_FAILED_PROOFS}rd failed proof of a run ends it: the genuine finish then finds no session`, async () => {
    expect(MAX_FAILED_PROOFS).toBe(3);
    const handshake = await registree().start({ lifetimeSeconds: 3600, associationId: 'sa-jp-bound' });
    try {
      const { finish } = await handshake.acceptChallenge((await world.post(path('sa-jp-bound', 'hello'), handshake.hello)).body);
      for (let i = 0; i < MAX_FAILED_PROOFS; i++) {
        expect(await world.post(path('sa-jp-bound', 'finish'), { ...finish, proof: `${'A'.repeat(85)}${'AQg'[i]}` }))
          .toMatchObject(refused('association.finish', 'bad_signature'));
      }
      expect(await world.post(path('sa-jp-bound', 'finish'), finish)).toMatchObject(refused('association.finish', 'unknown_session'));
    } finally {
      await handshake.abort();
    }
  });
});
