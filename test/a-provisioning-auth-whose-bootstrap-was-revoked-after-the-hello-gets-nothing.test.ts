/**
 * Found in review 64 (F4; seed 003 11.2.1, SER-010): a bootstrap credential revoked during a provisioning run still
 * got the delivery at its auth. The auth re-checked only that a bootstrap PSK was still there, and over HTTP a
 * bootstrap is asymmetric, so nothing was re-checked: hello, then the operator revokes the bootstrap
 * (keyCompromise), then the auth was 200 with the node's service parameters and a wrapped PSK. Now the auth reads
 * the bootstrap again once the node's proof verifies, and refuses its holder with the reason (`credential_revoked`),
 * as a decoy run's holder is told: nothing delivered, nothing recorded, the run ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64url } from '../domain/crypto/index.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('zz-midrun', 'ed25519');
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** The streams of every event appended after `position`, but the live runtime's own (its pseudonyms, written as it likes). */
const appendedSince = async (position: bigint): Promise<string[]> => (await world.streamsWrittenSince(position)).filter((s) => !s.startsWith('pseudonym-'));

describe('a provisioning auth over HTTP whose bootstrap credential was revoked after the hello', () => {
  it('is 422 credential_revoked to the node that proved it holds it: no delivery, no wrapped key, nothing appended, the run ended', async () => {
    const { id, publicKey } = sim.state.pinned.enrolmentFunction;
    const session = await sim.device
      .provisioningClient({ id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } })
      .start({ credentialKind: 'psk256', credentialId: 'zz-midrun-svc' });
    try {
      const challenge = await world.post('/v1/enrolment/hello', session.hello);
      expect(challenge.status).toBe(200);
      const auth = await session.acceptChallenge(challenge.body);
      await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'zz-midrun-boot', reason: 'keyCompromise' });
      const infra = await world.infrastructure();
      expect(infra.enrolmentFunction.sessionCount).toBe(1);
      const head = await world.head();

      const answer = await world.post('/v1/enrolment/auth', auth);

      expect(answer).toMatchObject({ status: 422, body: { type: 'https://credence.dev/problems/protocol', step: 'provisioning.auth', reason: 'credential_revoked' } });
      expect(answer.body).not.toHaveProperty('wrappedKey');
      expect(answer.body).not.toHaveProperty('serviceParameters');
      expect(JSON.stringify(answer.body)).not.toMatch(/zz-midrun-cse|sub-1|key_[A-Za-z0-9_-]{24}/);
      expect(await appendedSince(head)).toEqual([]);
      expect(infra.enrolmentFunction.sessionCount).toBe(0);
      // The run is over: the same auth again finds no session.
      expect(await world.post('/v1/enrolment/auth', auth)).toMatchObject({ status: 422, body: { step: 'provisioning.auth', reason: 'unknown_session' } });
    } finally {
      await session.abort();
    }
  });
});
