import { describe, expect, it } from 'vitest';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review 417: `device provision` checked only the credential id and fingerprint of the (unsigned)
// provisioning.recorded answer, and printed the rest as fact: a stand-in rewriting its nodeId, kind, predecessorId,
// position and completedAt had `credential … provisioned: p256 … (event at position 999999)` printed, and all of them in
// --json, exit 0, while device.json rightly held psk256. An answer for another node, kind or predecessor is now the
// `credential_mismatch` it is (naming the field), and what is printed is what the device holds and checked; the
// position and time are labelled the server's word.

const { url, operator, device, enrolledDevice, fingerprintOnServer, held, named } = provisioningDevices('sub-rc');

const RECEIPT = '/v1/enrolment/receipt';

/** A stand-in that forwards everything, and rewrites the receipt's 2xx answer with `fields`. */
const rewriting = (fields: Record<string, unknown>) =>
  standInProxy(async (req, res, body) => {
    const answer = await forwarded(url(), req, body);
    const text = await answer.text();
    if (req.url === RECEIPT && answer.ok) return answerWith(res, answer, JSON.stringify({ ...(JSON.parse(text) as object), ...fields }));
    return answerWith(res, answer, text);
  });

const provisionThrough = async (proxyUrl: string, dir: string, credentialId: string, kind: string, json = false) =>
  device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', kind, '--server', proxyUrl, ...(json ? ['--json'] : [])]);

describe('credence device provision, when the receipt\'s answer names another node, kind or predecessor', () => {
  it.each([
    ['another node', 'nodeId', { nodeId: 'somebody-else' }, 'rc-node'],
    ['another kind', 'kind', { kind: 'p256' }, 'rc-kind'],
    ['a predecessor the request did not name', 'predecessorId', { predecessorId: 'not-mine' }, 'rc-pred'],
  ] as const)('%s: refused as credential_mismatch naming %s, the outcome unknown, the key kept pending; a rerun with a token adopts it', async (_case, field, fields, nodeId) => {
    const dir = await enrolledDevice(nodeId);
    const credentialId = `${nodeId}-svc`;
    const proxy = await rewriting(fields);
    let run: { code: number; output: string };
    try {
      run = await provisionThrough(proxy.url, dir, credentialId, 'psk256');
    } finally {
      await proxy.close();
    }
    expect(run.code, run.output).not.toBe(0);
    expect(run.output).toContain('credential_mismatch');
    expect(run.output).toContain(`credential_mismatch (${field}: `);
    expect(run.output).toContain('is not known');
    expect(run.output).not.toContain('provisioned:');
    const state = readState(dir);
    expect(state.credentials).toEqual([]);
    expect(state.provisioning?.credentialId).toBe(credentialId);
    expect(await fingerprintOnServer(credentialId)).toBe(state.provisioning?.descriptor.fingerprint);
    expect(held(dir).map((k) => k.handle)).toEqual(named(state));

    const rerun = await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'psk256', '--server', url(), '--token', operator().token]);
    expect(rerun.output).toContain(`credential ${credentialId} adopted: psk256`);
    expect(rerun.code).toBe(0);
  }, 60_000);
});

describe('credence device provision, when the receipt\'s answer names another position and time', () => {
  it('prints the node, id, kind and fingerprint the device holds, and the position and time as the server\'s word; --json alike', async () => {
    const dir = await enrolledDevice('rc-pos');
    const proxy = await rewriting({ position: '999999', completedAt: '1999-01-01T00:00:00.000Z' });
    let text: { code: number; output: string };
    let json: { code: number; output: string };
    try {
      text = await provisionThrough(proxy.url, dir, 'rc-pos-svc', 'psk256');
      json = await provisionThrough(proxy.url, dir, 'rc-pos-svc2', 'ed25519', true);
    } finally {
      await proxy.close();
    }
    expect(text.code, text.output).toBe(0);
    const state = readState(dir);
    const held1 = state.credentials.find((c) => c.credentialId === 'rc-pos-svc')!;
    expect(text.output).toBe(`node rc-pos: credential rc-pos-svc provisioned: psk256 ${held1.descriptor.fingerprint} (the server says: event position 999999)`);
    expect(text.output).not.toContain('event at position');

    expect(json.code, json.output).toBe(0);
    const held2 = state.credentials.find((c) => c.credentialId === 'rc-pos-svc2')!;
    expect(held2.descriptor.kind === 'ed25519' && held2.descriptor.certificate === undefined).toBe(true);
    expect(JSON.parse(json.output)).toEqual({
      type: 'provisioning.recorded',
      nodeId: 'rc-pos',
      credentialId: 'rc-pos-svc2',
      kind: 'ed25519',
      fingerprint: held2.descriptor.fingerprint,
      // This service has no issuing CA: the device holds no certificate, and the rewritten answer could not give it one.
      certificate: 'none',
      serverPosition: '999999',
      serverCompletedAt: '1999-01-01T00:00:00.000Z',
    });
  }, 60_000);
});
