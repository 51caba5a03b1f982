import { describe, expect, it } from 'vitest';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Review 183: in a deployment with no CA, `device certificate` without --server told the operator to "fetch the one the
// server recorded", though the server records none there. It says to fetch it only if the server recorded one; asked
// with --server, the server's answer says it recorded none.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-nc');

describe('credence device certificate, in a deployment that issues no certificates', () => {
  it('without --server, says the server may hold one (not that it does); with --server, that it recorded none', async () => {
    const dir = await enrolledDevice('nc-meter');
    const provisioned = await device(['provision', '--dir', dir, '--credential-id', 'nc-meter-svc', '--kind', 'ed25519', '--server', url(), '--token', operator().token]);
    expect(provisioned.code, provisioned.output).toBe(0);
    expect(readState(dir).credentials.map((c) => c.descriptor.kind === 'psk256' ? undefined : c.descriptor.certificate)).toEqual([undefined]);

    const offline = await device(['certificate', '--dir', dir]);
    expect(offline.code).toBe(1);
    expect(offline.output).toContain('credential nc-meter-svc is held without a certificate: if the server recorded one for it, give --server');
    expect(offline.output).not.toContain('the one the server recorded');

    const asked = await device(['certificate', '--dir', dir, '--server', url(), '--token', operator().token]);
    expect(asked.code).toBe(1);
    expect(asked.output).toContain('the server recorded no certificate for credential nc-meter-svc');
    expect([offline.output, asked.output].join('\n')).not.toContain(operator().token);
  }, 60_000);
});
