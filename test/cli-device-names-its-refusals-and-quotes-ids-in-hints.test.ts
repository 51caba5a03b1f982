import { describe, expect, it } from 'vitest';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import { revokeIfNoKeys, revokeIt } from '../bin/commands/device/finish-outcome.ts';
import { readState } from '../bin/commands/device/state.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review 365 (the device CLI):
// - `device associate --association-id` was held to the loose printable-ASCII rule where `provision` holds its id to
//   the engine's: `../../enrolment/x` ran a whole handshake to a 422 `bad_signature`, then was told to run an
//   `association configure` that itself failed; and the hint printed ids unquoted, so `x;touch${IFS}/tmp/pwn` made a
//   pasteable shell injection.
// - `--credential-id <the bootstrap id>` was refused "holds no credential", though `device status` lists it.
// - `device provision` refused at the auth because the bootstrap or the node ended said nothing of the one way back
//   (docs/service.md: a new node id, `credence device init --node-id <new id>`).

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-names-refusals');

const ASSOCIATION_RULE = 'association id must be letters, digits and . _ : ~ - (1 to 128, starting with a letter or digit)';

describe('credence device associate --association-id', () => {
  it.each([
    ['a path', '../../enrolment/x'],
    ['a shell command', 'x;touch${IFS}/tmp/pwn'],
  ])('%s is bad usage naming the option and the rule, before anything is sent', async (_case, associationId) => {
    const dir = await enrolledDevice(`meter-id-${associationId.length}`);
    expect((await device(['provision', '--dir', dir, '--credential-id', `meter-id-${associationId.length}-svc`, '--kind', 'ed25519', '--server', url()])).code).toBe(0);

    const refused = await device(['associate', '--dir', dir, '--association-id', associationId, '--credential-id', `meter-id-${associationId.length}-svc`, '--server', url()]);
    expect(refused.code, refused.output).toBe(2);
    expect(refused.output).toContain('--association-id');
    expect(refused.output).toContain(ASSOCIATION_RULE);
    expect(refused.output).not.toMatch(/association\.(challenge|finish)|hint:/);
    expect(readState(dir).associations).toEqual([]);
  }, 60_000);

  it('an id the rule allows but the shell reads otherwise is quoted in the hint that names a command to run', async () => {
    const dir = await enrolledDevice('meter-tilde');
    expect((await device(['provision', '--dir', dir, '--credential-id', 'meter-tilde-svc', '--kind', 'ed25519', '--server', url()])).code).toBe(0);

    const refused = await device(['associate', '--dir', dir, '--association-id', 'meter~sa', '--credential-id', 'meter-tilde-svc', '--server', url()]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain(
      "run credence association configure 'meter~sa' --node meter-tilde --credential meter-tilde-svc --registrar /in-cse --registree-cse /meter-tilde-cse,",
    );
  }, 60_000);

  it('the revoke commands its hints name quote the association id', () => {
    expect(revokeIt("a'b;c")).toContain(`credence association revoke 'a'\\''b;c' --reason cessationOfOperation`);
    expect(revokeIfNoKeys('x;touch${IFS}/tmp/pwn', false)).toContain(`credence association revoke 'x;touch\${IFS}/tmp/pwn' --reason`);
    expect(revokeIt('meter-sa')).toContain('credence association revoke meter-sa --reason');
  });
});

describe('credence device associate --credential-id <its bootstrap credential>', () => {
  it('says it is the bootstrap credential, which only provisions, and names the service credentials held (or none yet)', async () => {
    const dir = await enrolledDevice('meter-boot');
    const associate = ['associate', '--dir', dir, '--association-id', 'meter-boot-sa', '--credential-id', 'meter-boot-bootstrap', '--server', url()];

    const none = await device(associate);
    expect(none.code, none.output).toBe(1);
    expect(none.output).toContain(
      'credentialId: meter-boot-bootstrap is the bootstrap credential of device meter-boot, which only provisions: an association authenticates with a service credential, ' +
        'and device meter-boot holds none yet: run credence device provision',
    );
    expect(none.output).not.toContain('holds no credential meter-boot-bootstrap');

    for (const id of ['meter-boot-svc', 'meter-boot-svc2']) {
      expect((await device(['provision', '--dir', dir, '--credential-id', id, '--kind', 'ed25519', '--server', url()])).code).toBe(0);
    }
    const held = await device(associate);
    expect(held.code, held.output).toBe(1);
    expect(held.output).toContain(
      'credentialId: meter-boot-bootstrap is the bootstrap credential of device meter-boot, which only provisions: an association authenticates with a service credential, ' +
        'such as meter-boot-svc or meter-boot-svc2',
    );
    expect(readState(dir).associations).toEqual([]);
  }, 60_000);
});

describe('credence device provision refused at the auth because the bootstrap or the node ended', () => {
  const NEW_NODE = 'credence device init --node-id <new id>';

  it('a revoked bootstrap: the hint says the device comes back only under a new node id', async () => {
    const dir = await enrolledDevice('meter-boot-rev');
    await operatorCommand(operator(), 'revokeCredential', { credentialId: 'meter-boot-rev-bootstrap', reason: 'keyCompromise' });

    const refused = await device(['provision', '--dir', dir, '--credential-id', 'meter-boot-rev-svc', '--kind', 'ed25519', '--server', url()]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/provisioning\.auth rejected: credential_revoked/);
    expect(refused.output).toMatch(/^\s*hint: .*bootstrap credential meter-boot-rev-bootstrap/m);
    expect(refused.output).toContain(NEW_NODE);
    const json = await device(['provision', '--dir', dir, '--credential-id', 'meter-boot-rev-svc', '--kind', 'ed25519', '--server', url(), '--json']);
    expect((JSON.parse(json.output) as { hint?: string }).hint).toContain(NEW_NODE);
  }, 60_000);

  it('a revoked node: the same hint', async () => {
    const dir = await enrolledDevice('meter-node-rev');
    await operatorCommand(operator(), 'revokeNode', { nodeId: 'meter-node-rev', reason: 'keyCompromise' });

    const refused = await device(['provision', '--dir', dir, '--credential-id', 'meter-node-rev-svc', '--kind', 'ed25519', '--server', url()]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/provisioning\.auth rejected: credential_revoked/);
    expect(refused.output).toMatch(/^\s*hint: .*node meter-node-rev/m);
    expect(refused.output).toContain(NEW_NODE);
  }, 60_000);

  it('an expired bootstrap: the hint says its validity ended and the device comes back only under a new node id', async () => {
    const dir = await enrolledDevice('meter-boot-exp');
    await operatorCommand(operator(), 'revokeCredential', { credentialId: 'meter-boot-exp-bootstrap', reason: 'keyCompromise' });
    // The server says `credential_expired` at the auth only for a bootstrap its record has not marked expired yet
    // (the expiry tick then makes it `credential_revoked`): the revoked one's refusal, reworded on the way.
    const proxy = await standInProxy(async (req, res, body) => {
      const answer = await forwarded(url(), req, body);
      const text = await answer.text();
      return answerWith(res, answer, req.url === '/v1/enrolment/auth' ? text.replaceAll('credential_revoked', 'credential_expired') : text);
    });
    try {
      const refused = await device(['provision', '--dir', dir, '--credential-id', 'meter-boot-exp-svc', '--kind', 'ed25519', '--server', proxy.url]);
      expect(refused.code, refused.output).toBe(1);
      expect(refused.output).toMatch(/provisioning\.auth rejected: credential_expired/);
      expect(refused.output).toMatch(/^\s*hint: .*bootstrap credential meter-boot-exp-bootstrap/m);
      expect(refused.output).toContain(NEW_NODE);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
