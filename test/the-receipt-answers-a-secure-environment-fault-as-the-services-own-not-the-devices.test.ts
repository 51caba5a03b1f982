/**
 * Review 187 (left open by the fix at the hello and the auth): `POST /v1/enrolment/receipt` did not go through
 * `answerDevice`, so a Secure Environment `validation` about a key of the service's own (a PKCS#11 `handle`/`host_key`
 * naming the handle) met while verifying the receipt or signing its answer was still a 400 naming the handle and what
 * the token did, told to the device as its own mistake (SER-001). Now it is the service's: 500 `internal`, the detail
 * in the service's log at error. The receipt's own refusals stay as they were: a field of its message 400, a proof
 * that does not verify 422, an engine's refusal of the recording 409.
 */
import { describe, expect, it, vi } from 'vitest';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { pinnedEf, useEnrolledDevice } from './support/enrolled-device-world.ts';
import { expectServiceFault, failNextServerCall, hostKey } from './support/server-se-fault.ts';

const served = useEnrolledDevice('meter-ser');

/** A run of `device` up to its receipt, not posted yet. */
const delivered = async (device: SimulatedDevice, credentialKind: 'ed25519' | 'psk256', credentialId: string) => {
  const session = await device.device.provisioningClient(pinnedEf(device)).start({ credentialKind, credentialId });
  const auth = await session.acceptChallenge((await served.world.post('/v1/enrolment/hello', session.hello)).body);
  const { receipt } = await session.acceptDelivery((await served.world.post('/v1/enrolment/auth', auth)).body);
  return { session, receipt };
};

describe('a Secure Environment validation about a key of the service\'s own, met at the receipt', () => {
  it('at the answer\'s signing: 500 internal, no handle, no Secure Environment words; its detail in the log at error', async () => {
    const { session, receipt } = await delivered(served.sim, 'ed25519', 'c-ser-sign');
    const named = failNextServerCall('sign', hostKey);
    const answered = await served.world.post('/v1/enrolment/receipt', receipt);
    vi.restoreAllMocks();
    await session.abort();

    expectServiceFault(served.world, answered, named, /host_key|x-derivation|Secure Environment|"errors"/, 50);
  });

  it('at the PSK\'s key confirmation (its MAC checked with the service\'s copy): 500 internal', async () => {
    const { session, receipt } = await delivered(served.sim, 'psk256', 'c-ser-mac');
    const named = failNextServerCall('verifyMac', hostKey);
    const answered = await served.world.post('/v1/enrolment/receipt', receipt);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(500);
    expect(JSON.stringify(answered.body)).not.toContain(named[0]);
  });
});

describe('the receipt\'s own refusals are answered as before', () => {
  it('a field of its message: 400 naming the field', async () => {
    const { session, receipt } = await delivered(served.sim, 'ed25519', 'c-ser-field');
    const refused = await served.world.post('/v1/enrolment/receipt', { ...receipt, completedAt: 'yesterday' });
    await session.abort();
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('completedAt');
  });

  it('a proof that does not verify: 422 protocol', async () => {
    const { session, receipt } = await delivered(served.sim, 'ed25519', 'c-ser-proof');
    const flipped = `${receipt.credentialProof.startsWith('A') ? 'B' : 'A'}${receipt.credentialProof.slice(1)}`;
    const refused = await served.world.post('/v1/enrolment/receipt', { ...receipt, credentialProof: flipped });
    await session.abort();
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ step: 'provisioning.receipt' });
  });

  it('a recording the engine refuses (the bootstrap revoked during the run): 409 naming the rule', async () => {
    const late = await served.world.enrolledDevice('meter-ser-late', 'ed25519');
    const { session, receipt } = await delivered(late, 'ed25519', 'c-ser-late');
    await operatorCommand(served.world.operator, 'revokeCredential', { credentialId: 'meter-ser-late-boot', reason: 'keyCompromise' });
    const refused = await served.world.post('/v1/enrolment/receipt', receipt);
    await session.abort();
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ rule: 'bootstrapIsUsable' });
  });
});
