import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Seed 003 11.2.1, found in adversarial review 26: remote provisioning authenticates on the node's pre-existing
 * (bootstrap) credential, yet it was recorded on a bootstrap credential past its notAfter: `bootstrapIsUsable`
 * checked the bootstrap's state (provisioned or associated) and owner, not its validity window, so until the expiry
 * scheduler recorded CredentialExpired an ended factory credential still provisioned new ones. It now requires the
 * bootstrap usable at the command's instant (provisioned, not ended, inside [notBefore, notAfter)) and of the same owner.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const remotely = (credentialId: string) =>
  command('provisionCredential', { credentialId, method: 'remote-provisioning', bootstrapCredentialId: 'boot-1' }, { actor: operator });

/** meter-1 registered at the factory with boot-1 (valid to at(10)), enrolled; cred-1 issued (valid to at(90)). */
const open = async () => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  await c.engine.execute(cmd.createSubscription());
  await c.engine.execute(command('registerNode', {
    nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'boot-1',
  }, { actor: operator }));
  await c.engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(10), { purpose: 'bootstrap' }));
  await c.engine.execute(cmd.provisionCredential('boot-1'));
  await c.engine.execute(cmd.enrolNode());
  await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90)));
  return { c, clock };
};

describe('remote provisioning needs its bootstrap credential inside its validity window (seed 003 11.2.1)', () => {
  it('refuses it at the bootstrap\'s notAfter, before anything marked it expired, writing nothing', async () => {
    const { c, clock } = await open();
    clock.set(at(10));
    expect((await c.engine.entity('credential', 'boot-1')).snapshot.value).toBe('enrolled');
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(remotely('cred-1')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'bootstrapIsUsable' });
    expect(await footprint(c.store)).toEqual(before);
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.value).toBe('initialized');
  });

  it('records it just before the notAfter', async () => {
    const { c, clock } = await open();
    clock.set(new Date(Date.parse(at(10)) - 1));
    await c.engine.execute(remotely('cred-1'));
    expect((await c.engine.entity('credential', 'cred-1')).snapshot.value).toBe('enrolled');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored remote provisioning on the bootstrap at its notAfter', async () => {
    const { c } = await open();
    const forged = await forge(c.store, 'credential-cred-1', 'CredentialProvisioned', {
      credentialId: 'cred-1', method: 'remote-provisioning', bootstrapCredentialId: 'boot-1',
    }, at(10));
    const reason = expect.stringMatching(
      /^CredentialProvisioned refused in state initialized by rule bootstrapIsUsable: remote provisioning of credential cred-1 .*; bootstrap credential boot-1 is valid from .* to 2026-01-11T00:00:00\.000Z, and this is 2026-01-11T00:00:00\.000Z$/,
    );
    expect((await replayAll(c.store)).findings.map((f) => [f.position, f.reason])).toEqual([[forged.position, reason]]);
    expect((await replayEntity(c.store, 'credential-cred-1')).verdict).toEqual({
      ok: false, findings: [expect.objectContaining({ position: forged.position, reason: expect.stringContaining('bootstrapIsUsable') })],
    });
  });
});
