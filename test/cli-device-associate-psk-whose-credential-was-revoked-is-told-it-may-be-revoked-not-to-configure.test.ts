import { describe, expect, it } from 'vitest';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Review 161 (2): a device whose PSK credential was revoked gets, at its hello, a decoy challenge MACed under the
// stand-in PSK (the cascade shredded the Registrar's copy: by design nothing can authenticate the Registrar to it
// any more), refused on the device as `association.challenge bad_mac (Registrar CSE authentication failed)`. The
// CLI's hint said only that the association might not be configured or the Registrar not the pinned one, and named
// `credence association configure`, which the engine refuses for a revoked credential. It now names the revocation
// (or expiry) first, and says to ask the operator.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-psk-revoked');

describe('credence device associate without a token, with a PSK credential an operator revoked', () => {
  it('is refused at the challenge with a hint that names the revoked or expired credential first', async () => {
    const dir = await enrolledDevice('meter-psk-rev');
    expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-psk-rev-svc', '--kind', 'psk256', '--server', url()])).code).toBe(0);
    await operatorCommand(operator(), 'configureAssociation', {
      associationId: 'meter-psk-rev-sa', nodeId: 'meter-psk-rev', credentialId: 'meter-psk-rev-svc',
      registree: { kind: 'cse', id: '/meter-psk-rev-cse' }, registrarCseId: '/in-cse',
    });
    await operatorCommand(operator(), 'revokeCredential', { credentialId: 'meter-psk-rev-svc', reason: 'keyCompromise' });
    const associate = ['associate', '--dir', dir, '--association-id', 'meter-psk-rev-sa', '--credential-id', 'meter-psk-rev-svc', '--server', url()];

    // The shredder destroys the Registrar's copy of the PSK once it reads the revocation; until then the holder is
    // told `credential_revoked` at the finish (the decoy challenge MACed with its own PSK), or, for a run the shred
    // lands in, `bad_mac` at the finish (its proof checked under the stand-in PSK). Polled by time, not by count: on
    // a loaded machine the shredder may take longer than a hundred short runs (a flake seen under load).
    let refused = await device(associate);
    for (const until = Date.now() + 40_000; Date.now() < until && !/association\.challenge rejected: bad_mac/.test(refused.output); ) {
      expect(refused.output).toMatch(/association\.finish rejected: (credential_revoked|bad_mac)/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      refused = await device(associate);
    }
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/association\.challenge rejected: bad_mac \(Registrar CSE authentication failed\)/);
    expect(refused.output).toContain(
      'hint: no token was given, so this run configured no association: meter-psk-rev-sa may not be configured for credential meter-psk-rev-svc, ' +
        'or credential meter-psk-rev-svc was revoked or has expired (the Registrar no longer holds its PSK; ask the operator), ' +
        'or the Registrar is not the one pinned (/in-cse)',
    );
    expect(refused.output).not.toContain(operator().token);
  }, 60_000);
});
