import { describe, expect, it } from 'vitest';
import { clientOf } from '../bin/commands/options.ts';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Review 183: when the finish reached the Registrar, which recorded the association, but its answer was lost (a
// connection reset, a gateway's 5xx), `device associate` said only `cannot reach …: other side closed`, and a rerun
// got `association_not_waiting` with a hint to use a new association id: nothing said the association may be live at
// the Registrar with session keys the device lacks, nor that it should be revoked.

const { url, operator, device, enrolledDevice, held } = provisioningDevices('sub-lost-finish');

/** A stand-in in front of the service: forwards everything, but loses the finish's answer as `lost` says. */
const standIn = (lost: 'reset' | '502') =>
  standInProxy(async (req, res, body) => {
    const answer = await forwarded(url(), req, body);
    const text = await answer.text();
    if (req.url?.endsWith('/finish') === true && answer.ok) {
      if (lost === 'reset') return req.socket.destroy();
      return res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
    }
    return answerWith(res, answer, text);
  });

const REVOKE = (id: string) => `credence association revoke ${id} --reason`;

describe('credence device associate, when the finish reached the Registrar but its answer did not come back', () => {
  it.each([
    ['the connection is dropped (exit 3, as for a server not reached)', 'reset', 3, 'lf-reset'],
    ['a gateway answers 502 in its place', '502', 1, 'lf-502'],
  ] as const)('%s: says the Registrar may have recorded the association, that the device keeps no keys for it, the revoke and a new id', async (_case, lost, code, nodeId) => {
    const dir = await enrolledDevice(nodeId);
    const credentialId = `${nodeId}-svc`;
    const associationId = `${nodeId}-sa`;
    expect((await device(['provision', '--dir', dir, '--credential-id', credentialId, '--kind', 'ed25519', '--server', url()])).code).toBe(0);
    const proxy = await standIn(lost);
    let run: { code: number; output: string };
    try {
      run = await device(['associate', '--dir', dir, '--association-id', associationId, '--credential-id', credentialId, '--server', proxy.url, '--token', operator().token]);
    } finally {
      await proxy.close();
    }
    expect(run.code).toBe(code);
    expect(run.output).toContain(`whether the Registrar recorded association ${associationId} is not known`);
    expect(run.output).toContain('the Registrar may have recorded it, and this device keeps no session keys for it');
    expect(run.output).toContain(REVOKE(associationId));
    expect(run.output).toContain('--association-id');
    expect(run.output).not.toContain(operator().token);
    // It did record it, and the device holds no keys for it.
    expect((await clientOf(operator()).entity('association', associationId)).state).toBe('associated');
    const state = readState(dir);
    expect(state.associations).toEqual([]);
    expect(held(dir)).toHaveLength(2);

    // A rerun under the same id is told it takes no handshake, and, the device holding no keys for it, to revoke it.
    const rerun = await device(['associate', '--dir', dir, '--association-id', associationId, '--credential-id', credentialId, '--server', url()]);
    expect(rerun.code).toBe(1);
    expect(rerun.output).toContain('association_not_waiting');
    expect(rerun.output).toContain(REVOKE(associationId));
    expect(rerun.output).toContain('--association-id');

    // With a token, the configuration is refused first (409, the association associated): told the same.
    const configured = await device(['associate', '--dir', dir, '--association-id', associationId, '--credential-id', credentialId, '--server', url(), '--token', operator().token]);
    expect(configured.code).toBe(1);
    expect(configured.output).toContain('in state associated');
    expect(configured.output).toContain(REVOKE(associationId));
    expect(configured.output).toContain('--association-id');
  }, 60_000);
});
