import { describe, expect, it } from 'vitest';
import { provisioningDevices } from './support/provisioning-device.ts';
import { runCli } from './support/cli.ts';

// Found in review 126: with a PSK credential, `device associate` without a token on an association nobody configured
// ended with "association.challenge rejected: bad_mac (Registrar CSE authentication failed)" and no hint: the server's
// decoy challenge, keyed by no PSK the device holds, fails on the device before any finish is sent, so the hint given
// to a refused finish never came. The same hint now comes with it, saying the Registrar may also not be the pinned one,
// and (review 161) first that the credential may have been revoked or expired, its PSK gone from the Registrar.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-psk-unconfigured');

describe('credence device associate without a token, with a PSK credential, on an association nobody configured', () => {
  it('is refused at the challenge with a hint naming credence association configure, which then lets it through', async () => {
    const dir = await enrolledDevice('meter-psk');
    expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-psk-svc', '--kind', 'psk256', '--server', url()])).code).toBe(0);
    const associate = ['associate', '--dir', dir, '--association-id', 'meter-psk-sa', '--credential-id', 'meter-psk-svc', '--server', url()];

    const refused = await device(associate);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/association\.challenge rejected: bad_mac \(Registrar CSE authentication failed\)/);
    const configure = 'credence association configure meter-psk-sa --node meter-psk --credential meter-psk-svc --registrar /in-cse --registree-cse /meter-psk-cse';
    expect(refused.output).toContain(
      'hint: no token was given, so this run configured no association: meter-psk-sa may not be configured for credential meter-psk-svc, ' +
        'or credential meter-psk-svc was revoked or has expired (the Registrar no longer holds its PSK; ask the operator), ' +
        `or the Registrar is not the one pinned (/in-cse): if no operator configured meter-psk-sa, run ${configure}, or run device associate again with an operator token`,
    );
    expect(refused.output).not.toContain(operator().token);

    // --json: the problem document, with the hint as a member of it.
    const json = await device([...associate, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.output)).toMatchObject({ status: 422, step: 'association.challenge', reason: 'bad_mac', hint: expect.stringContaining(configure) });

    // The command the hint names, as typed, with a server and a token: the handshake then goes through.
    const configured = await runCli([...configure.split(' ').slice(1), '--server', url(), '--token', operator().token]);
    expect(configured.code, configured.err).toBe(0);
    const associated = await device(associate);
    expect(associated.code, associated.output).toBe(0);
    expect(associated.output).toMatch(/association meter-psk-sa established with \/in-cse/);
  }, 60_000);
});
