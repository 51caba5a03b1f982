import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { DomainEvent } from '../domain/events/index.ts';
import { PublicIdentities } from '../projections/pseudonyms/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Review 288 (machines v11): a node's registration names its bootstrap (factory) credential, which is issued after it
 * (ownerIsLive: a credential is issued to a node that exists), so a registration naming a credential already recorded
 * is never legitimate. Nothing checked it: `registerNode meter-2` naming meter-1's bootstrap boot-1, or its service
 * credential, was accepted, and the pseudonym fold then bound meter-1's credential to meter-2, naming it under
 * meter-2's epochs (SER-011/018/025). The registration now reads the credential it names as a fact
 * (bootstrapNotYetRecorded), and a node's bootstrap credential (no predecessor) is the one its node named
 * (bootstrapNamedByItsNode), so an id meter-2 named cannot become meter-1's second factory credential.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const profile = { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] };
const register = (nodeId: string, bootstrapCredentialId: string) => command('registerNode', { nodeId, profile, bootstrapCredentialId }, { actor: operator });

/** meter-1 registered with boot-1, boot-1 issued and provisioned, enrolled, its service credential cred-1 provisioned. */
const open = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await c.engine.execute(cmd.createSubscription());
  await c.engine.execute(register('meter-1', 'boot-1'));
  await c.engine.execute(cmd.issueCredential('boot-1', 'meter-1', at(90), { purpose: 'bootstrap' }));
  await c.engine.execute(cmd.provisionCredential('boot-1'));
  await c.engine.execute(cmd.enrolNode());
  await c.engine.execute(cmd.issueCredential('cred-1', 'meter-1', at(90)));
  await c.engine.execute(cmd.provisionCredential('cred-1'));
  return c;
};

describe("a node's registration names a bootstrap credential not yet recorded (review 288)", () => {
  it.each([
    ["meter-1's bootstrap credential", 'boot-1'],
    ["meter-1's service credential", 'cred-1'],
  ])('refuses meter-2 naming %s, writing nothing', async (_name, credentialId) => {
    const c = await open();
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(register('meter-2', credentialId)));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'NodeRegistered', rule: 'bootstrapNotYetRecorded' });
    expect(error.message).toContain(`credential ${credentialId} is recorded already, owned by node:meter-1`);
    expect(await footprint(c.store)).toEqual(before);
  });

  it('registers a node naming an id no credential has, and refuses that id as another node\'s bootstrap afterwards', async () => {
    const c = await open();
    await c.engine.execute(register('meter-2', 'boot-9'));
    const error = await rejection(c.engine.execute(cmd.issueCredential('boot-9', 'meter-1', at(90), { purpose: 'bootstrap' })));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'CredentialIssued', rule: 'bootstrapNamedByItsNode' });
    expect(error.message).toContain('node meter-1 registered with bootstrap credential boot-1');
    // Its own node's bootstrap is issued as ever.
    await c.engine.execute(cmd.issueCredential('boot-9', 'meter-2', at(90), { purpose: 'bootstrap' }));
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('replay flags a stored registration naming a recorded credential, as a rule newer than the event', async () => {
    const c = await open();
    const forged = await forge(c.store, 'node-meter-2', 'NodeRegistered', { nodeId: 'meter-2', profile, bootstrapCredentialId: 'boot-1' }, T0);
    const { findings } = await replayAll(c.store);
    expect(findings.map((f) => f.position)).toEqual([forged.position]);
    expect(findings[0]!.reason).toContain('by rule bootstrapNotYetRecorded');
    expect(findings[0]!.reason).toContain('rule since credence:machines:v11');
  });
});

const event = (type: string, data: Record<string, unknown>) => ({ type, data }) as unknown as DomainEvent;

describe("the pseudonym fold binds a credential to its owner's node, not to another node's registration (review 288)", () => {
  it("keeps meter-1's credential under meter-1 when a stored registration of meter-2 names it", () => {
    const ids = new PublicIdentities();
    ids.observe(event('NodeRegistered', { nodeId: 'meter-1', profile, bootstrapCredentialId: 'boot-1' }));
    ids.observe(event('CredentialIssued', { credentialId: 'boot-1', owner: { kind: 'node', id: 'meter-1' }, kind: 'ed25519', purpose: 'bootstrap', fingerprint: 'f', notBefore: 'x', notAfter: 'y' }));
    ids.observe(event('NodeRegistered', { nodeId: 'meter-2', profile, bootstrapCredentialId: 'boot-1' }));
    expect(ids.nodeOf('credential', 'boot-1')).toBe('meter-1');
  });

  it('binds a credential named at registration to the node it is issued to', () => {
    const ids = new PublicIdentities();
    ids.observe(event('NodeRegistered', { nodeId: 'meter-2', profile, bootstrapCredentialId: 'boot-9' }));
    expect(ids.nodeOf('credential', 'boot-9')).toBe('meter-2');
    ids.observe(event('CredentialIssued', { credentialId: 'boot-9', owner: { kind: 'node', id: 'meter-1' }, kind: 'ed25519', purpose: 'service', fingerprint: 'f', notBefore: 'x', notAfter: 'y' }));
    expect(ids.nodeOf('credential', 'boot-9')).toBe('meter-1');
  });
});
