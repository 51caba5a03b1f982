import { describe, expect, it } from 'vitest';
import { openDevice } from '../bin/commands/device/simulator.ts';
import { readState, stateFile, writeState } from '../bin/commands/device/state.ts';
import { provision } from '../bin/commands/device/steps.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Found in review: when `device provision` could not write the device's state after the server recorded the new
// credential (disk full, a read-only folder, killed in between), the key made for it was named nowhere: a rerun
// neither used nor destroyed it, and the server held a credential whose key the device could not find. The key is now
// named in the state before the receipt is sent, and a rerun adopts it or destroys it by the server's fingerprint.

const { url, operator, device, enrolledDevice, named, held, fingerprintOnServer, expectNoSecret } = provisioningDevices('sub-pu');

describe('credence device provision, when the state cannot be written after the server recorded the credential', () => {
  it('says so naming the state file, and a rerun adopts the key the server recorded: one usable key, no orphan', async () => {
    const dir = await enrolledDevice('meter-pu');
    const sim = openDevice(dir);
    try {
      const save = sim.save.bind(sim);
      // The disk fills once the server has answered: any save of a state that holds the new credential fails.
      sim.save = () => {
        if (sim.device.credentials.has('meter-pu-svc')) throw new Error('no space left on device');
        save();
      };
      const run = provision(url(), sim, { credentialId: 'meter-pu-svc', kind: 'ed25519' });
      await expect(run).rejects.toThrow(stateFile(dir));
    } finally {
      sim.close();
    }
    const recorded = await fingerprintOnServer('meter-pu-svc');
    expect(recorded).toEqual(expect.any(String));

    // Without a token the server cannot be asked: refused, naming the state file, the key kept.
    const unasked = await device(['provision', '--dir', dir, '--credential-id', 'meter-pu-svc', '--kind', 'ed25519', '--server', url()]);
    expect(unasked.code).not.toBe(0);
    expect(unasked.output).toContain(stateFile(dir));
    expect(held(dir).map((k) => k.handle)).toEqual(named(readState(dir)));

    const rerun = await device(['provision', '--dir', dir, '--credential-id', 'meter-pu-svc', '--kind', 'ed25519', '--server', url(), '--token', operator().token]);
    expect(rerun.code).toBe(0);
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([['meter-pu-svc', recorded]]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    // The key it names is the one the server bound the credential to.
    const adopted = openDevice(dir);
    try {
      const svc = state.credentials[0]!;
      const key = await adopted.device.se.describe(svc.handle);
      expect(publicKeyFingerprint('ed25519', key.publicKey!)).toBe(recorded);
    } finally {
      adopted.close();
    }
    expectNoSecret([unasked.output, rerun.output].join('\n'), dir);
  }, 60_000);

  it('destroys a pending key the server did not record, then provisions: one key for the credential, no orphan', async () => {
    const dir = await enrolledDevice('meter-pk');
    // A run killed after naming its key, before its receipt reached the server, an hour ago (its run at the server is
    // surely over, review 207): the server recorded nothing.
    const sim = openDevice(dir);
    try {
      const handle = await sim.device.se.generate('ed25519', { usage: 'sign' });
      const publicKey = (await sim.device.se.describe(handle)).publicKey!;
      const descriptor = { ...sim.state.bootstrap.descriptor, publicKey: toBase64url(publicKey), fingerprint: publicKeyFingerprint('ed25519', publicKey) };
      // Written an hour ago, on the device's clock and the server's: its run is surely over.
      const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
      writeState(dir, { ...sim.state, provisioning: { credentialId: 'meter-pk-svc', handle, descriptor, writtenAt: anHourAgo, serverWrittenAt: anHourAgo } });
    } finally {
      sim.close();
    }
    const rerun = await device(['provision', '--dir', dir, '--credential-id', 'meter-pk-svc', '--kind', 'ed25519', '--server', url(), '--token', operator().token]);
    expect(rerun.code).toBe(0);
    const state = readState(dir);
    expect(state.provisioning).toBeUndefined();
    expect(state.credentials.map((c) => [c.credentialId, c.descriptor.fingerprint])).toEqual([['meter-pk-svc', await fingerprintOnServer('meter-pk-svc')]]);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));
    expectNoSecret(rerun.output, dir);
  }, 60_000);
});
