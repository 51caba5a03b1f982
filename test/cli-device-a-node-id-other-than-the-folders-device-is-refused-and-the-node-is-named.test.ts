import { cpSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { provisioningDevices } from './support/provisioning-device.ts';

// Found in review 302: a folder copied under another node's name acted as the original. `device provision --dir <copy>
// --node-id r302-d` exited 0, said "credential r302-d-1 provisioned", and the server recorded it for r302-c; `device
// status --node-id someone-else` showed r302-c. A --node-id that is not the folder's node is now refused (exit 2),
// naming both, before anything is sent; provision and associate name the node they ran as.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-node-id-mismatch');

describe('a --node-id other than the node the device folder holds', () => {
  it('is refused by provision, associate and status, naming the option, the folder and its node; nothing is sent', async () => {
    const dir = await enrolledDevice('r302-c');
    const copy = `${dir}-copy`;
    cpSync(dir, copy, { recursive: true });

    const provision = await device(['provision', '--dir', copy, '--node-id', 'r302-d', '--credential-id', 'r302-d-1', '--kind', 'ed25519', '--server', url()]);
    expect(provision.code, provision.output).toBe(2);
    expect(provision.output).toContain(`--node-id: r302-d, but ${copy} holds the device of node r302-c`);
    expect(provision.output).not.toMatch(/provisioned/);

    const associate = await device(['associate', '--dir', copy, '--node-id', 'r302-d', '--association-id', 'r302-d-sa', '--credential-id', 'r302-d-1', '--server', url()]);
    expect(associate.code, associate.output).toBe(2);
    expect(associate.output).toContain(`--node-id: r302-d, but ${copy} holds the device of node r302-c`);

    const status = await device(['status', '--dir', copy, '--node-id', 'someone-else']);
    expect(status.code, status.output).toBe(2);
    expect(status.output).toContain(`--node-id: someone-else, but ${copy} holds the device of node r302-c`);
  }, 60_000);

  it('the same --node-id goes through, and provision and associate say the node they ran as', async () => {
    const dir = await enrolledDevice('r302-e');
    const provision = await device(['provision', '--dir', dir, '--node-id', 'r302-e', '--credential-id', 'r302-e-1', '--kind', 'ed25519', '--server', url()]);
    expect(provision.code, provision.output).toBe(0);
    expect(provision.output).toContain('node r302-e: credential r302-e-1 provisioned');

    const associate = await device(['associate', '--dir', dir, '--association-id', 'r302-e-sa', '--credential-id', 'r302-e-1', '--server', url(), '--token', operator().token]);
    expect(associate.code, associate.output).toBe(0);
    expect(associate.output).toContain('node r302-e: association r302-e-sa established with /in-cse');

    const status = await device(['status', '--dir', dir, '--node-id', 'r302-e']);
    expect(status.code, status.output).toBe(0);
  }, 60_000);
});
