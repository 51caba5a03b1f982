import { describe, expect, it } from 'vitest';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, stateFile, type DeviceState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Review 183: device.json keeps at most 1,000 credentials and the device never dropped one, so past that a
// provision ran to the receipt, the server recorded the credential, and the state could not be written. Expired
// credentials are now dropped before a provision (their keys destroyed once the state without them is written), but
// never one an unexpired association uses, and a state with no room is refused before anything is sent.

const { url, device, enrolledDevice, held, fingerprintOnServer } = provisioningDevices('sub-full-creds');

const LIMIT = 1_000;

/** Every key handle the state names, session keys included. */
const named = (state: DeviceState): string[] =>
  [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...state.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive])].sort();

const absentHandle = (i: number): KeyHandle => `key_c${String(i).padStart(23, '0')}` as KeyHandle;

/**
 * A provisioned device of `nodeId` whose state holds LIMIT credentials ending at `notAfter`, the first `real` with
 * keys its Secure Environment holds, and one unexpired association on the first of them.
 */
const fullDevice = async (nodeId: string, notAfter: Date, real: number): Promise<string> => {
  const dir = await enrolledDevice(nodeId);
  expect((await device(['provision', '--dir', dir, '--credential-id', `${nodeId}-svc`, '--kind', 'ed25519', '--server', url()])).code).toBe(0);
  const sim = openDevice(dir);
  try {
    const provisioned = sim.device.credentials.get(`${nodeId}-svc`)!;
    const descriptor = { ...provisioned.descriptor, validity: { notBefore: new Date(notAfter.getTime() - 86_400_000).toISOString(), notAfter: notAfter.toISOString() } };
    for (let i = 0; i < LIMIT; i++) {
      const handle = i < real ? await sim.device.se.generate('ed25519') : absentHandle(i);
      sim.device.credentials.set(`${nodeId}-old-${i}`, { handle, descriptor });
    }
    sim.device.credentials.delete(`${nodeId}-svc`);
    const now = Date.now();
    sim.state = {
      ...sim.state,
      associations: [{
        associationId: `${nodeId}-sa`, credentialId: `${nodeId}-old-0`, registrarId: '/in-cse', registreeId: `/${nodeId}-cse`,
        sessionKeys: { send: await sim.device.se.generate('psk256'), receive: await sim.device.se.generate('psk256') },
        transcriptHash: 'a'.repeat(64), establishedAt: new Date(now).toISOString(), expiresAt: new Date(now + 3_600_000).toISOString(),
      }],
    };
    sim.save();
    await sim.device.se.destroy(provisioned.handle);
  } finally {
    sim.close();
  }
  return dir;
};

describe('credence device provision, on a device whose state holds the most credentials it keeps', () => {
  it('drops the expired ones an unexpired association does not use, and their keys, then provisions', async () => {
    const dir = await fullDevice('fc-expired', new Date(Date.now() - 60_000), 3);
    const run = await device(['provision', '--dir', dir, '--credential-id', 'fc-expired-next', '--kind', 'ed25519', '--server', url()]);
    expect(run.code).toBe(0);
    const state = readState(dir);
    expect(state.credentials.map((c) => c.credentialId).sort()).toEqual(['fc-expired-next', 'fc-expired-old-0']);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
  }, 120_000);

  it('with none expired, is refused before anything is sent, naming device.json, its credentials and the limit', async () => {
    const dir = await fullDevice('fc-live', new Date(Date.now() + 86_400_000), 1);
    const before = readState(dir);
    const run = await device(['provision', '--dir', dir, '--credential-id', 'fc-live-next', '--kind', 'ed25519', '--server', url()]);
    expect(run.code).toBe(1);
    expect(run.output).toContain(stateFile(dir));
    expect(run.output).toContain(`${LIMIT} unexpired credentials`);
    expect(await fingerprintOnServer('fc-live-next')).toBeUndefined();
    expect(readState(dir)).toEqual(before);
  }, 120_000);
});
