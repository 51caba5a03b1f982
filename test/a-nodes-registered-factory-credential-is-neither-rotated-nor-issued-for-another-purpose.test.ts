import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 290 (machines v11, unreleased): the device hello authenticates only on the bootstrap credential its node
 * registered with (adapters/protocols/procedures/bootstrap-lookup.ts), and bootstrapIsFactoryCredential holds remote
 * provisioning to it.
 * A. A successor of purpose bootstrap issued to a node that registered one was accepted, and a rotation onto it too:
 *    once the overlap ended, the registered credential was revoked as superseded and the node could never be
 *    remotely provisioned again, with nothing said. Now refused at issue (factoryCredentialNotRotated).
 * B. The registered id issued to its node with purpose service was accepted, and the node could then never get its
 *    bootstrap (bootstrapNamedByItsNode refuses every other id). Now refused (bootstrapNamedByItsNode).
 * A node registered without a bootstrap id keeps its bootstrap rotations.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] };
const register = (nodeId: string, bootstrapCredentialId?: string) =>
  command('registerNode', { nodeId, profile, ...(bootstrapCredentialId !== undefined ? { bootstrapCredentialId } : {}) }, { actor: operator });

/** meter-1 registered (naming boot-1 unless told otherwise), boot-1 issued as its bootstrap and provisioned. */
const open = async (bootstrapCredentialId: string | null = 'boot-1') => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await c.engine.execute(cmd.createSubscription());
  await c.engine.execute(register('meter-1', bootstrapCredentialId ?? undefined));
  await c.engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap' }));
  await c.engine.execute(cmd.provisionCredential('boot-1'));
  return c;
};

describe("a node's registered factory credential is not rotated (review 290 A)", () => {
  it('refuses a successor of purpose bootstrap to a node that registered one, writing nothing', async () => {
    const c = await open();
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(cmd.issueCredential('boot-2', 'meter-1', at(90), { purpose: 'bootstrap', predecessorId: 'boot-1' })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'CredentialIssued', rule: 'factoryCredentialNotRotated' });
    expect(error.message).toContain('node meter-1 registered with bootstrap credential boot-1');
    expect(error.message).toContain('remote provisioning authenticates on');
    expect(error.message).toContain('device init');
    expect(await footprint(c.store)).toEqual(before);
  });

  it('keeps bootstrap rotations for a node registered without a bootstrap id', async () => {
    const c = await open(null);
    await c.engine.execute(cmd.issueCredential('boot-2', 'meter-1', at(90), { purpose: 'bootstrap', predecessorId: 'boot-1' }));
    await c.engine.execute(cmd.provisionCredential('boot-2'));
    await c.engine.execute(cmd.startCredentialRotation(at(30), 'boot-1', 'boot-2'));
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored bootstrap successor of a node that registered one, as a rule newer than the event', async () => {
    const c = await open();
    const forged = await forge(c.store, 'credential-boot-2', 'CredentialIssued', {
      credentialId: 'boot-2', owner: { kind: 'node', id: 'meter-1' }, kind: 'ed25519', purpose: 'bootstrap', predecessorId: 'boot-1',
      fingerprint: `sha256:${'b'.repeat(64)}`, notBefore: T0, notAfter: at(90),
    }, T0);
    const { findings } = await replayAll(c.store);
    expect(findings.map((f) => f.position)).toEqual([forged.position]);
    expect(findings[0]!.reason).toContain('by rule factoryCredentialNotRotated');
    expect(findings[0]!.reason).toContain('rule since credence:machines:v11');
  });
});

describe("a node's registered bootstrap id is issued only as its bootstrap (review 290 B)", () => {
  it.each([
    ['its node', { kind: 'node', id: 'meter-2' }],
    ["its node's CSE-ID", { kind: 'cse', id: '/cse-meter-2', nodeId: 'meter-2' }],
  ])('refuses boot-c issued to %s with purpose service, writing nothing, and still issues it as the bootstrap', async (_name, owner) => {
    const c = await open();
    await c.engine.execute(register('meter-2', 'boot-c'));
    await c.engine.execute(cmd.enrolNode('meter-2'));
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(cmd.issueCredential('boot-c', 'meter-2', at(90), { owner })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'CredentialIssued', rule: 'bootstrapNamedByItsNode' });
    expect(error.message).toContain('credential boot-c is issued with purpose service');
    expect(error.message).toContain('node meter-2 registered with bootstrap credential boot-c');
    expect(await footprint(c.store)).toEqual(before);
    await c.engine.execute(cmd.issueCredential('boot-c', 'meter-2', at(90), { purpose: 'bootstrap' }));
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
