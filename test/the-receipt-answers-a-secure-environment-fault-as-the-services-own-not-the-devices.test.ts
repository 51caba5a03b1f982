/**
 * Review 187 (left open by the fix at the hello and the auth): `POST /v1/enrolment/receipt` did not go through
 * `answerDevice`, so a Secure Environment `validation` about a key of the service's own (a PKCS#11 `handle`/`host_key`
 * naming the handle) met while verifying the receipt or signing its answer was still a 400 naming the handle and what
 * the token did, told to the device as its own mistake (SER-001). Now it is the service's: 500 `internal`, the detail
 * in the service's log at error. The receipt's own refusals stay as they were: a field of its message 400, a proof
 * that does not verify 422, an engine's refusal of the recording 409.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { pkcs11Problem } from '../adapters/driven/secure-environment/pkcs11/module.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { fromBase64url } from '../domain/crypto/index.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import type { SimulatedDevice } from '../bin/commands/device/simulator.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './support/device-service.ts';
import { failNextServerCall } from './support/server-se-fault.ts';

let world: DeviceServiceWorld;
let sim: SimulatedDevice;
beforeAll(async () => {
  world = await deviceServiceWorld();
  sim = await world.enrolledDevice('meter-ser', 'ed25519');
}, 60_000);
afterAll(async () => {
  await world?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const pinned = (device: SimulatedDevice) => {
  const { id, publicKey } = device.state.pinned.enrolmentFunction;
  return { id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } };
};

/** A run of `device` up to its receipt, not posted yet. */
const delivered = async (device: SimulatedDevice, credentialKind: 'ed25519' | 'psk256', credentialId: string) => {
  const session = await device.device.provisioningClient(pinned(device)).start({ credentialKind, credentialId });
  const auth = await session.acceptChallenge((await world.post('/v1/enrolment/hello', session.hello)).body);
  const { receipt } = await session.acceptDelivery((await world.post('/v1/enrolment/auth', auth)).body);
  return { session, receipt };
};

const hostKey = (_owner: string, handle: KeyHandle) => pkcs11Problem('handle', 'host_key', `key ${handle} was made without x-derivation=host and stays in the token`);

describe('a Secure Environment validation about a key of the service\'s own, met at the receipt', () => {
  it('at the answer\'s signing: 500 internal, no handle, no Secure Environment words; its detail in the log at error', async () => {
    const { session, receipt } = await delivered(sim, 'ed25519', 'c-ser-sign');
    const named = failNextServerCall('sign', hostKey);
    const answered = await world.post('/v1/enrolment/receipt', receipt);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(500);
    expect(answered.body).toMatchObject({ status: 500, type: expect.stringMatching(/internal$/) });
    const text = JSON.stringify(answered.body);
    expect(text).not.toContain(named[0]);
    expect(text).not.toMatch(/host_key|x-derivation|Secure Environment|"errors"/);
    const logged = world.service.logs().filter((l) => l.includes(named[0]!)).map((l) => JSON.parse(l) as { level: number });
    expect(logged.length).toBeGreaterThan(0);
    expect(Math.max(...logged.map((l) => l.level))).toBeGreaterThanOrEqual(50);
  });

  it('at the PSK\'s key confirmation (its MAC checked with the service\'s copy): 500 internal', async () => {
    const { session, receipt } = await delivered(sim, 'psk256', 'c-ser-mac');
    const named = failNextServerCall('verifyMac', hostKey);
    const answered = await world.post('/v1/enrolment/receipt', receipt);
    vi.restoreAllMocks();
    await session.abort();

    expect(named).toHaveLength(1);
    expect(answered.status).toBe(500);
    expect(JSON.stringify(answered.body)).not.toContain(named[0]);
  });
});

describe('the receipt\'s own refusals are answered as before', () => {
  it('a field of its message: 400 naming the field', async () => {
    const { session, receipt } = await delivered(sim, 'ed25519', 'c-ser-field');
    const refused = await world.post('/v1/enrolment/receipt', { ...receipt, completedAt: 'yesterday' });
    await session.abort();
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('completedAt');
  });

  it('a proof that does not verify: 422 protocol', async () => {
    const { session, receipt } = await delivered(sim, 'ed25519', 'c-ser-proof');
    const flipped = `${receipt.credentialProof.startsWith('A') ? 'B' : 'A'}${receipt.credentialProof.slice(1)}`;
    const refused = await world.post('/v1/enrolment/receipt', { ...receipt, credentialProof: flipped });
    await session.abort();
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ step: 'provisioning.receipt' });
  });

  it('a recording the engine refuses (the bootstrap revoked during the run): 409 naming the rule', async () => {
    const late = await world.enrolledDevice('meter-ser-late', 'ed25519');
    const { session, receipt } = await delivered(late, 'ed25519', 'c-ser-late');
    await operatorCommand(world.operator, 'revokeCredential', { credentialId: 'meter-ser-late-boot', reason: 'keyCompromise' });
    const refused = await world.post('/v1/enrolment/receipt', receipt);
    await session.abort();
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ rule: 'bootstrapIsUsable' });
  });
});
