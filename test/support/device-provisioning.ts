import { provisionOverHttp, type DeviceTransport } from '../../adapters/client/device/index.ts';
import type { NodeProvisioningResult } from '../../domain/protocols/index.ts';
import type { SimulatedDevice } from '../../bin/commands/device/simulator.ts';

/**
 * Remote provisioning of `credentialId` (Ed25519) by `sim` through `transport` (one that copies, drops or rewrites
 * messages): its outcome (undefined when it succeeded, else what it threw) and the key the run made, named to the
 * device before its receipt is sent.
 */
export const provisionWith = async (sim: SimulatedDevice, credentialId: string, transport: DeviceTransport) => {
  let made: NodeProvisioningResult | undefined;
  const outcome = await provisionOverHttp(transport, sim.device, {
    credentialId, kind: 'ed25519', enrolmentFunction: sim.state.pinned.enrolmentFunction, beforeReceipt: (m) => void (made = m),
  }).then(() => undefined, (error: unknown) => error);
  return { outcome, made: made! };
};

/** Whether the device's Secure Environment still holds the key of `handle`. */
export const heldBy = (sim: SimulatedDevice, handle: string): Promise<boolean> => sim.device.se.describe(handle as never).then(() => true, () => false);
