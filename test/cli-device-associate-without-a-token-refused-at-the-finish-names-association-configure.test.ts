import { describe, expect, it } from 'vitest';
import { provisioningDevices } from './support/provisioning-device.ts';
import { runCli } from './support/cli.ts';

// Found in review: `credence device associate` without a token, on an association nobody configured, ended with
// "refused: Protocol error (422) association.finish rejected: bad_signature". The server answers so on purpose (a
// stranger learns nothing from a decoy: docs/service.md), but the CLI knows it configured nothing: it now says what
// to run if nobody did, and that command is the one that lets the handshake through.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-unconfigured');

describe('credence device associate without a token, on an association nobody configured', () => {
  it('is refused at the finish with a hint naming credence association configure, which then lets it through', async () => {
    const dir = await enrolledDevice('meter-unconf');
    expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-unconf-svc', '--kind', 'ed25519', '--server', url()])).code).toBe(0);
    const associate = ['associate', '--dir', dir, '--association-id', 'meter-unconf-sa', '--credential-id', 'meter-unconf-svc', '--server', url()];

    const refused = await device(associate);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/association\.finish rejected: bad_signature/);
    const configure = 'credence association configure meter-unconf-sa --node meter-unconf --credential meter-unconf-svc --registrar /in-cse --registree-cse /meter-unconf-cse';
    expect(refused.output).toContain(`hint: no token was given, so this run configured no association: if no operator configured meter-unconf-sa, run ${configure}, or run device associate again with an operator token`);
    expect(refused.output).not.toContain(operator().token);

    // The command the hint names, as typed, with a server and a token: the handshake then goes through.
    const configured = await runCli([...configure.split(' ').slice(1), '--server', url(), '--token', operator().token]);
    expect(configured.code, configured.err).toBe(0);
    const associated = await device(associate);
    expect(associated.code, associated.output).toBe(0);
    expect(associated.output).toMatch(/association meter-unconf-sa established with \/in-cse/);
  }, 60_000);

  it('a refusal that is not a failed proof at the finish gets no hint', async () => {
    const dir = await enrolledDevice('meter-unconf-2');
    // No such credential on the device: refused before any message is sent, as before.
    const refused = await device(['associate', '--dir', dir, '--association-id', 'meter-unconf-2-sa', '--credential-id', 'not-held', '--server', url()]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).not.toMatch(/hint:/);
  }, 60_000);
});
