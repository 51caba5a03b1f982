import { describe, expect, it } from 'vitest';
import { readState, stateFile } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Review 252: the server answered a device's provisioning receipt with a 500 (its disk full, say). The CLI said
// `refused (validation): invalid device folder: dir: whether the server recorded credential … is not known (Internal
// Server Error)…`, and every later run, for another --credential-id too, was refused as `invalid device folder: dir:
// …/device.json: …` until the server's run was surely over. The folder was fine: the outcome is unknown because the
// server failed. The failure is now said as the server's 500, with what the device does next, and a later run as a
// provisioning whose outcome is pending: its credential, until when, and what settles it.

const { url, operator, device, enrolledDevice, held } = provisioningDevices('sub-server-fails-receipt');

const RECEIPT = '/v1/enrolment/receipt';

/** A server whose receipt route fails (500, the service's own document) without recording anything; the rest passes. */
const receiptFails = () =>
  standInProxy(async (req, res, body) => {
    if (req.url === RECEIPT) {
      const problem = { type: 'https://credence.dev/problems/internal', title: 'Internal Server Error', status: 500, detail: 'Internal Server Error' };
      return res.writeHead(500, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem));
    }
    return answerWith(res, await forwarded(url(), req, body));
  });

const provisionArgs = (dir: string, credentialId: string, server: string) =>
  ['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', server];

describe('credence device provision whose receipt the server answers with a 500', () => {
  it('says the server failed and the outcome is unknown, and a later run that the provisioning is pending: never an invalid device folder', async () => {
    const dir = await enrolledDevice('sf-meter');
    const credentialId = 'sf-meter-psk1';
    const proxy = await receiptFails();
    let failed: { code: number; output: string };
    try {
      failed = await device(provisionArgs(dir, credentialId, proxy.url));
    } finally {
      await proxy.close();
    }
    expect(failed.code).toBe(1);
    expect(failed.output).not.toContain('invalid device folder');
    expect(failed.output).not.toContain('(validation)');
    // The server's failure, as it said it, and what it leaves.
    expect(failed.output).toContain('Internal Server Error (500)');
    expect(failed.output).toContain(`the server failed (500) answering the receipt of credential ${credentialId}`);
    expect(failed.output).toContain(`whether it recorded credential ${credentialId} is not known`);
    expect(failed.output).toContain(`this device keeps the new key, named as pending in ${stateFile(dir)}`);
    expect(failed.output).toMatch(/run device provision again with an operator token .* to settle it by its fingerprint/);
    expect(failed.output).toMatch(/not before \d{4}-\d\d-\d\dT[\d:.]+Z by the server's clock/);
    const pending = readState(dir).provisioning!;
    expect(pending.credentialId).toBe(credentialId);
    expect(held(dir).map((k) => k.handle)).toContain(pending.handle);

    // A later run, for another credential, with a token, while the server may still be recording the first.
    const other = await device([...provisionArgs(dir, 'sf-meter-psk2', url()), '--token', operator().token]);
    expect(other.code).toBe(1);
    expect(other.output).not.toContain('invalid device folder');
    expect(other.output).toContain(`the provisioning of credential ${credentialId} by an earlier run is pending`);
    expect(other.output).toContain('sf-meter-psk2 is not provisioned until it is settled');
    expect(other.output).toMatch(/run device provision again after \d{4}-\d\d-\d\dT[\d:.]+Z by the server's clock/);
    expect(other.output).toContain('to settle it by its fingerprint');

    // And one without a token, which cannot ask the server.
    const untokened = await device(provisionArgs(dir, 'sf-meter-psk2', url()));
    expect(untokened.code).toBe(1);
    expect(untokened.output).not.toContain('invalid device folder');
    expect(untokened.output).toContain(`the provisioning of credential ${credentialId} by an earlier run is pending`);
    expect(untokened.output).toContain('sf-meter-psk2 is not provisioned until it is settled');
    expect(untokened.output).toMatch(/run device provision again with an operator token .* to settle it by its fingerprint/);
    expect(untokened.output).toMatch(/not before \d{4}-\d\d-\d\dT[\d:.]+Z by the server's clock/);
    expect(readState(dir).provisioning?.handle).toBe(pending.handle);

    // --json: the same words, under the rule scripts knew it by.
    const json = await device([...provisionArgs(dir, 'sf-meter-psk2', url()), '--json']);
    expect(json.code).toBe(1);
    const document = JSON.parse(json.output) as { detail: string; errors: { rule: string; message: string }[] };
    expect(document.detail).not.toContain('invalid device folder');
    expect(document.errors).toMatchObject([{ rule: 'unfinished-provision', message: expect.stringContaining(`credential ${credentialId} by an earlier run is pending`) }]);
  }, 60_000);
});
