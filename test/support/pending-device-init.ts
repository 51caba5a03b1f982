import { writePendingInit } from '../../bin/commands/device/pending-init.ts';
import { openDeviceSecureEnvironment, now, random } from '../../bin/commands/device/simulator.ts';
import { Device } from '../../adapters/protocols/procedures/index.ts';

/** The profile the device-init rerun tests register their nodes with. */
export const meterProfile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: ['metering'] };

/**
 * An init's first run as factory.ts leaves it before it sends anything: a one-day ed25519 bootstrap key made in the
 * folder's Secure Environment and the pending init naming it, its registration of `nodeId` with `meterProfile`. The
 * key's handle, its descriptor and the validity.
 */
export const pendingInit = async (dir: string, nodeId: string, bootstrapCredentialId: string) => {
  const se = openDeviceSecureEnvironment(dir);
  try {
    const device = new Device({ nodeId, se, now, random });
    // One instant for both ends: two reads of the clock a millisecond apart made a validity of 86,400.001 s, which a
    // rerun of a one-day init takes for another init (a flaky test on a loaded machine).
    const at = now();
    const validity = { notBefore: at.toISOString(), notAfter: new Date(at.getTime() + 86_400_000).toISOString() };
    const { handle, descriptor } = await device.generateBootstrap('ed25519', validity);
    const registration = JSON.stringify({ nodeId, profile: meterProfile, bootstrapCredentialId });
    writePendingInit(dir, { version: 1, nodeId, bootstrapCredentialId, registration, handle, descriptor, validity });
    return { handle, descriptor, validity };
  } finally {
    se.close();
  }
};
