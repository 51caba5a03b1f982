import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import type { KeyHandle } from '../domain/ports/secure-environment.ts';
import { clientOf } from '../bin/commands/options.ts';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, stateFile, writeState, type DeviceState, type HeldAssociation } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Review 183: the device never dropped its expired associations (nor their session keys), and device.json keeps at
// most 1,000. Past that, every `device associate` ran the whole handshake, the Registrar recorded the association,
// then the state's save failed with a raw ZodError and the new keys were destroyed: a live association at the
// server that the device holds no keys for. Expired associations are now dropped before the handshake (their keys
// destroyed once the state without them is written), and a state with no room is refused before anything is sent.

const { url, operator, device, enrolledDevice, held } = provisioningDevices('sub-full');

const LIMIT = 1_000;

/** Every key handle the state names, session keys included. */
const named = (state: DeviceState): string[] =>
  [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...state.associations.flatMap((a) => [a.sessionKeys.send, a.sessionKeys.receive])].sort();

/** A handle of the right shape that no Secure Environment holds (a key the device lost track of, say). */
const absentHandle = (i: number, side: string): KeyHandle => `key_${side}${String(i).padStart(23, '0')}` as KeyHandle;

/** A provisioned device of `nodeId` whose state holds LIMIT associations ending at `expiresAt`, the first `real` with keys its Secure Environment holds. */
const fullDevice = async (nodeId: string, expiresAt: Date, real: number): Promise<{ dir: string; credentialId: string }> => {
  const dir = await enrolledDevice(nodeId);
  const credentialId = `${nodeId}-svc`;
  expect((await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', url()])).code).toBe(0);
  const sim = openDevice(dir);
  try {
    const associations: HeldAssociation[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const sessionKeys = i < real
        ? { send: await sim.device.se.generate('psk256'), receive: await sim.device.se.generate('psk256') }
        : { send: absentHandle(i, 's'), receive: absentHandle(i, 'r') };
      associations.push({
        associationId: `${nodeId}-old-${i}`, credentialId, registrarId: '/in-cse', registreeId: `/${nodeId}-cse`, sessionKeys,
        transcriptHash: 'a'.repeat(64), establishedAt: new Date(expiresAt.getTime() - 3_600_000).toISOString(), expiresAt: expiresAt.toISOString(),
      });
    }
    sim.state = { ...sim.state, associations };
    sim.save();
  } finally {
    sim.close();
  }
  return { dir, credentialId };
};

const associate = (dir: string, associationId: string, credentialId: string) =>
  device(['associate', '--dir', dir, '--association-id', associationId, '--credential-id', credentialId, '--server', url(), '--token', operator().token]);

describe('credence device associate, on a device whose state holds the most associations it keeps', () => {
  it('drops the expired ones and their session keys, then associates: the state names exactly the keys its Secure Environment holds', async () => {
    const { dir, credentialId } = await fullDevice('full-expired', new Date(Date.now() - 60_000), 3);
    const run = await associate(dir, 'full-expired-sa', credentialId);
    expect(run.output).toContain('association full-expired-sa established');
    expect(run.code).toBe(0);
    const state = readState(dir);
    expect(state.associations.map((a) => a.associationId)).toEqual(['full-expired-sa']);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
  }, 120_000);

  it('with none expired, is refused before anything is sent, naming device.json, its associations and the limit', async () => {
    const { dir, credentialId } = await fullDevice('full-live', new Date(Date.now() + 86_400_000), 1);
    const before = readState(dir);
    const run = await associate(dir, 'full-live-sa', credentialId);
    expect(run.code).toBe(1);
    expect(run.output).toContain(stateFile(dir));
    expect(run.output).toContain(`${LIMIT} unexpired associations`);
    expect(run.output).not.toMatch(/ZodError|too_big/);
    // Nothing was sent: the association was not even configured.
    await expect(clientOf(operator()).entity('association', 'full-live-sa')).rejects.toMatchObject({ status: 404 });
    expect(readState(dir)).toEqual(before);
  }, 120_000);
});

describe('device.json, when a state past its limits is to be written', () => {
  it('is refused as a typed validation error naming the file and the member, never a raw ZodError', async () => {
    const dir = await enrolledDevice('full-unwritable');
    const state = readState(dir);
    const association = (i: number): HeldAssociation => ({
      associationId: `a-${i}`, credentialId: 'c', registrarId: '/in-cse', registreeId: '/r', sessionKeys: { send: absentHandle(i, 's'), receive: absentHandle(i, 'r') },
      transcriptHash: 'a'.repeat(64), establishedAt: new Date().toISOString(), expiresAt: new Date().toISOString(),
    });
    let thrown: unknown;
    try {
      writeState(dir, { ...state, associations: Array.from({ length: LIMIT + 1 }, (_, i) => association(i)) });
    } catch (error) {
      thrown = error;
    }
    expect(isCredenceError(thrown, 'validation')).toBe(true);
    expect((thrown as Error).message).toContain(stateFile(dir));
    expect((thrown as Error).message).toContain('associations');
    expect(readState(dir)).toEqual(state);
  }, 60_000);
});
