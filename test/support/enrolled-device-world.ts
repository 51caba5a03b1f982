import { afterAll, afterEach, beforeAll, vi } from 'vitest';
import type { SimulatedDevice } from '../../bin/commands/device/simulator.ts';
import { fromBase64url } from '../../domain/crypto/index.ts';
import { deviceServiceWorld, type DeviceServiceWorld } from './device-service.ts';

/** A device service world and one device enrolled in it (an ed25519 bootstrap), for the tests of one file or block. */
export interface EnrolledDeviceWorld {
  readonly world: DeviceServiceWorld;
  readonly sim: SimulatedDevice;
}

/**
 * Starts the world and enrols `nodeId` before the block's tests, closes it after them, and restores every mock after
 * each test (a Secure Environment fault a test injected must not outlive it).
 */
export const useEnrolledDevice = (nodeId: string): EnrolledDeviceWorld => {
  const at = {} as { world: DeviceServiceWorld; sim: SimulatedDevice };
  beforeAll(async () => {
    at.world = await deviceServiceWorld();
    at.sim = await at.world.enrolledDevice(nodeId, 'ed25519');
  }, 60_000);
  afterAll(async () => {
    await at.world?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return at;
};

/** The Enrolment Function `device` pinned, as its provisioning client takes it. */
export const pinnedEf = (device: SimulatedDevice) => {
  const { id, publicKey } = device.state.pinned.enrolmentFunction;
  return { id, publicKey: { kind: publicKey.kind, bytes: fromBase64url(publicKey.publicKey) } };
};
