import { describe, expect, it } from 'vitest';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { readState } from '../bin/commands/device/state.ts';
import { clientOf } from '../bin/commands/options.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Found in review: `device associate` with a token, on an association whose handshake had already run (state
// associated), took the service's 409 to its configuration for "configured already" and went on to a handshake the
// Registrar could only refuse: `association.finish rejected: unknown_credential`, for a credential that exists. Only a
// 409 saying the association is configured and waiting for its handshake lets the run go on; any other is the refusal.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-assoc-409');

/** The state and revision the server holds for association `id`. */
const onServer = async (id: string) => {
  const { state, revision } = await clientOf(operator()).entity('association', id);
  return { state, revision };
};

const associateArgs = (dir: string, nodeId: string, extra: string[] = []) =>
  ['associate', '--dir', dir, '--association-id', `${nodeId}-sa`, '--credential-id', `${nodeId}-svc`, '--server', url(), '--token', operator().token, ...extra];

/** An enrolled device of `nodeId` holding the ed25519 service credential `<nodeId>-svc`; its folder. */
const provisionedDevice = async (nodeId: string): Promise<string> => {
  const dir = await enrolledDevice(nodeId);
  expect((await device(['provision', '--dir', dir, '--credential-id', `${nodeId}-svc`, '--kind', 'ed25519', '--server', url()])).code).toBe(0);
  return dir;
};

describe('device associate with a token, on an association whose handshake already ran (state associated)', () => {
  it('is refused with the state, what it allows, and that a new handshake needs a new association id; no handshake is sent', async () => {
    const dir = await provisionedDevice('meter-twice');
    const first = await device(associateArgs(dir, 'meter-twice'));
    expect(first.code, first.output).toBe(0);
    const held = readState(dir).associations;
    const recorded = await onServer('meter-twice-sa');
    expect(recorded.state).toBe('associated');

    const again = await device(associateArgs(dir, 'meter-twice'));
    expect(again.code, again.output).toBe(1);
    expect(again.output).not.toMatch(/association\.(hello|finish)|unknown_credential/);
    expect(again.output).toMatch(/^ {2}state: associated$/m);
    expect(again.output).toMatch(/^ {2}allowed: \[.*AssociationRevoked.*\]$/m);
    expect(again.output).toMatch(/hint: association meter-twice-sa is in state associated, where it takes no handshake: a new handshake needs a new association id \(--association-id\)/);
    expect(again.output).not.toContain(operator().token);
    // The device keeps the keys of the first handshake, and the server recorded nothing more.
    expect(readState(dir).associations).toEqual(held);
    expect(await onServer('meter-twice-sa')).toEqual(recorded);

    // --json: the service's problem, with the hint as a member of it.
    const json = await device(associateArgs(dir, 'meter-twice', ['--json']));
    expect(json.code).toBe(1);
    expect(JSON.parse(json.output)).toMatchObject({ status: 409, state: 'associated', hint: expect.stringMatching(/new association id/) });
  }, 60_000);
});

describe('device associate with a token, when the configuration is refused by a rule (its credential revoked)', () => {
  it('is refused with the rule, and sends no handshake', async () => {
    const dir = await provisionedDevice('meter-revoked');
    await operatorCommand(operator(), 'revokeCredential', { credentialId: 'meter-revoked-svc', reason: 'keyCompromise' });

    const refused = await device(associateArgs(dir, 'meter-revoked'));
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/^ {2}rule: credentialUsable$/m);
    expect(refused.output).not.toMatch(/association\.(hello|finish)/);
    expect(refused.output).not.toMatch(/new association id/);
    expect(readState(dir).associations).toEqual([]);
  }, 60_000);
});

describe('device associate with a token, on an association configured and waiting for its handshake', () => {
  it('goes on to the handshake past the service\'s 409', async () => {
    const dir = await provisionedDevice('meter-waiting');
    await operatorCommand(operator(), 'configureAssociation', {
      associationId: 'meter-waiting-sa', nodeId: 'meter-waiting', credentialId: 'meter-waiting-svc',
      registree: { kind: 'cse', id: '/meter-waiting-cse' }, registrarCseId: readState(dir).pinned.registrar.id,
    });

    const associated = await device(associateArgs(dir, 'meter-waiting'));
    expect(associated.code, associated.output).toBe(0);
    expect(associated.output).toMatch(/association meter-waiting-sa established with \/in-cse/);
  }, 60_000);
});
