import { describe, expect, it } from 'vitest';
import { ProblemResponse } from '../adapters/client/http.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { readState, stateFile } from '../bin/commands/device/state.ts';
import { clientOf } from '../bin/commands/options.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review 126: `device associate` with a token configured the association at the server before checking the
// device held the credential. For a credential the server recorded but the device held only as pending (its receipt's
// answer lost to a 502), the run failed with a plain "holds no credential" and left the association configured for
// it; a rerun for a credential the device does hold took the service's 409 "configured and waiting" as its own and
// failed at the challenge, pointing at the Registrar. Now the credential is checked before anything is sent, and a 409
// for an association configured otherwise is refused naming what differs.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-assoc-held');

/** A stand-in that forwards everything, but answers the receipt the server recorded with a gateway's 502. */
const receiptAnswerLost = () =>
  standInProxy(async (req, res, body) => {
    const answer = await forwarded(url(), req, body);
    if (req.url === '/v1/enrolment/receipt' && answer.ok) return res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
    return answerWith(res, answer);
  });

/** The state the server holds for association `id`, or `absent` when it holds none. */
const onServer = async (id: string): Promise<string> => {
  try {
    return (await clientOf(operator()).entity('association', id)).state;
  } catch (error) {
    if (error instanceof ProblemResponse && error.status === 404) return 'absent';
    throw error;
  }
};

/** An enrolled device holding `<nodeId>-c1`, and `<nodeId>-svc` recorded by the server but pending on the device. */
const deviceWithAPendingCredential = async (nodeId: string): Promise<string> => {
  const dir = await enrolledDevice(nodeId);
  expect((await device(['provision', '--dir', dir, '--credential-id', `${nodeId}-c1`, '--kind', 'ed25519', '--server', url()])).code).toBe(0);
  const proxy = await receiptAnswerLost();
  try {
    const lost = await device(['provision', '--dir', dir, '--credential-id', `${nodeId}-svc`, '--kind', 'ed25519', '--server', proxy.url]);
    expect(lost.code).not.toBe(0);
  } finally {
    await proxy.close();
  }
  expect(readState(dir).provisioning?.credentialId).toBe(`${nodeId}-svc`);
  return dir;
};

const associateArgs = (dir: string, associationId: string, credentialId: string, extra: string[] = []) =>
  ['associate', '--dir', dir, '--association-id', associationId, '--credential-id', credentialId, '--server', url(), '--token', operator().token, ...extra];

describe('credence device associate with a token, for a credential the device holds only as pending', () => {
  it('is refused naming credentialId and the pending record, and nothing is configured at the server', async () => {
    const dir = await deviceWithAPendingCredential('meter-held');

    const refused = await device(associateArgs(dir, 'meter-held-sa', 'meter-held-svc'));
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/^refused \(validation\): invalid association: credentialId: device meter-held holds no credential meter-held-svc: it is named as pending in /m);
    expect(refused.output).toContain(stateFile(dir));
    expect(refused.output).not.toContain(operator().token);
    expect(await onServer('meter-held-sa')).toBe('absent');

    const json = await device(associateArgs(dir, 'meter-held-sa', 'meter-held-svc', ['--json']));
    expect(json.code).toBe(1);
    expect(JSON.parse(json.output)).toMatchObject({ status: 400, errors: [{ path: 'credentialId', rule: 'held' }] });
    expect(await onServer('meter-held-sa')).toBe('absent');
    expect(readState(dir).associations).toEqual([]);
  }, 60_000);
});

describe('credence device associate with a token, on an association configured and waiting for another credential', () => {
  it('is refused naming the credential it is configured for, and no handshake is sent', async () => {
    const dir = await deviceWithAPendingCredential('meter-other');
    // As a run before the fix left it: the association configured for the credential the device holds only as pending.
    await operatorCommand(operator(), 'configureAssociation', {
      associationId: 'meter-other-sa', nodeId: 'meter-other', credentialId: 'meter-other-svc',
      registree: { kind: 'cse', id: '/meter-other-cse' }, registrarCseId: readState(dir).pinned.registrar.id,
    });

    const refused = await device(associateArgs(dir, 'meter-other-sa', 'meter-other-c1'));
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain(
      'credentialId: association meter-other-sa is configured and waiting for its handshake for credential meter-other-svc, not meter-other-c1: ' +
        'a handshake for this device needs a new association id (--association-id)',
    );
    expect(refused.output).not.toMatch(/association\.(hello|challenge|finish)|bad_mac|bad_signature|Registrar CSE authentication/);
    expect(readState(dir).associations).toEqual([]);
    expect(await onServer('meter-other-sa')).toBe('initialized');

    // A new association id, configured by the run itself, goes through with the credential the device holds.
    const associated = await device(associateArgs(dir, 'meter-other-sa2', 'meter-other-c1'));
    expect(associated.code, associated.output).toBe(0);
    expect(associated.output).toMatch(/association meter-other-sa2 established with \/in-cse/);
  }, 60_000);
});
