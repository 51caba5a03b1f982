import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 288 (machines v11): remote provisioning is recorded only on a bootstrap credential of the same owner
 * (seed 003, 11.2.1; REQUIREMENTS.md). bootstrapIsUsable checked that the credential named was usable and the
 * owner's, not that it was a bootstrap credential: `provisionCredential svc-2 --method remote-provisioning
 * --bootstrap-credential svc-1`, svc-1 a service credential, was accepted. Now the credential named is of purpose
 * bootstrap and, when the node registered one, the one it registered with (bootstrapIsFactoryCredential), as the
 * Enrolment Function's hello, which looks up the node's registered bootstrap, holds it.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const remotely = (credentialId: string, bootstrapCredentialId: string) =>
  command('provisionCredential', { credentialId, method: 'remote-provisioning', bootstrapCredentialId }, { actor: operator });

/** meter-1 registered with boot-1 (provisioned), enrolled; its service credential svc-1 provisioned, svc-2 issued. */
const open = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await c.engine.execute(cmd.createSubscription());
  await c.engine.execute(command('registerNode', {
    nodeId: 'meter-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'boot-1',
  }, { actor: operator }));
  await c.engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap' }));
  await c.engine.execute(cmd.provisionCredential('boot-1'));
  await c.engine.execute(cmd.enrolNode());
  await c.engine.execute(cmd.issueCredential('svc-1', 'meter-1', at(90)));
  await c.engine.execute(cmd.provisionCredential('svc-1'));
  await c.engine.execute(cmd.issueCredential('svc-2', 'meter-1', at(90)));
  return c;
};

describe('remote provisioning authenticates only on the node\'s bootstrap credential (review 288)', () => {
  it('refuses it on a service credential of the same node, writing nothing', async () => {
    const c = await open();
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(remotely('svc-2', 'svc-1')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'bootstrapIsFactoryCredential' });
    expect(error.message).toContain('credential svc-1 has purpose service');
    expect(await footprint(c.store)).toEqual(before);
  });

  it('records it on the bootstrap credential the node registered with', async () => {
    const c = await open();
    await c.engine.execute(remotely('svc-2', 'boot-1'));
    expect((await c.engine.entity('credential', 'svc-2')).snapshot.value).toBe('enrolled');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored remote provisioning on a service credential, as a rule newer than the event', async () => {
    const c = await open();
    const forged = await forge(c.store, 'credential-svc-2', 'CredentialProvisioned', { credentialId: 'svc-2', method: 'remote-provisioning', bootstrapCredentialId: 'svc-1' }, T0);
    const { findings } = await replayAll(c.store);
    expect(findings.map((f) => f.position)).toEqual([forged.position]);
    expect(findings[0]!.reason).toContain('by rule bootstrapIsFactoryCredential');
    expect(findings[0]!.reason).toContain('rule since credence:machines:v11');
  });
});
