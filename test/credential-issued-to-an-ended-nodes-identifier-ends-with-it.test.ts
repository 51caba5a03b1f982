import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { walkDependents } from '../projections/cascade/index.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * Found in review: a credential issued to a CSE-ID just after its node was revoked stayed live, and passed to the next
 * node that enrolled with that CSE-ID; issued just before, the cascade revoked it. Two concurrent commands (issue,
 * revoke) decided the credential's fate by which was stored first. A CSE-ID or AE-ID released by its holder's end is
 * now remembered with that holder: a credential issued to it ends with the holder's reason, until a node (or an AE's
 * association) claims the identifier again; one issued after that claim is the new holder's.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const run = (c: Credence, x: unknown) => c.engine.execute(x);
const credential = async (c: Credence, id: string) => {
  const { snapshot } = await c.engine.entity('credential', id);
  return [String(snapshot.value), snapshot.context['revocationReason']];
};
const issuedTo = (credentialId: string, owner: { kind: 'cse' | 'ae'; id: string }) => cmd.issueCredential(credentialId, 'meter-1', at(300), { owner });
const issueK = cmd.issueCredential('k', 'meter-1', at(300), { owner: { kind: 'cse', id: '/cse-meter-1' } });
const revokeMeter1 = command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator });
const enrolOnCse = (nodeId: string, cseId: string) => command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId }, { actor: operator });
const associateOn = (associationId: string, credentialId: string, nodeId: string, cseId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: cseId }, registrarCseId: '/in-cse' }, { actor: operator });
const dependentsOf = (c: Credence, root: string) => walkDependents(c.readModels, root, 100).dependents.map((d) => d.streamId);

/** meter-1 enrolled as /cse-meter-1, meter-2 registered (the device that will replace it). */
const fleet = async (c: Credence): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2')]) await run(c, x);
};

describe('a credential issued to the CSE-ID of a node that ended ends with it, whichever command was stored first', () => {
  it.each([
    ['issued, then the node revoked', [issueK, revokeMeter1]],
    ['the node revoked, then issued', [revokeMeter1, issueK]],
  ])('%s: revoked for keyCompromise, never provisioned, never passed to the next node with that CSE-ID', async (_, order) => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    for (const x of order) await run(c, x);
    await c.settle();
    expect(await credential(c, 'k')).toEqual(['revoked', 'keyCompromise']);
    expect((await rejection(run(c, cmd.provisionCredential('k')))).problem).toMatchObject({ code: 'illegal_transition' });

    await run(c, enrolOnCse('meter-2', '/cse-meter-1'));
    await c.settle();
    expect(dependentsOf(c, 'node-meter-1')).toContain('credential-k');
    expect(dependentsOf(c, 'node-meter-2')).not.toContain('credential-k');
    expect((await rejection(run(c, associateOn('sa-2', 'k', 'meter-2', '/cse-meter-1')))).problem).toMatchObject({ code: 'illegal_transition' });
  });

  it.each([
    ['issue', [issueK, revokeMeter1]],
    ['revocation', [revokeMeter1, issueK]],
  ])('issued while the revocation is decided concurrently (%s sent first): revoked all the same', async (_, order) => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    await Promise.all(order.map((x) => run(c, x)));
    await c.settle();
    expect(await credential(c, 'k')).toEqual(['revoked', 'keyCompromise']);
  });

  it('a credential issued after the next node claimed the CSE-ID is that node\'s, and untouched', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    await run(c, revokeMeter1);
    await run(c, enrolOnCse('meter-2', '/cse-meter-1'));
    await run(c, issuedTo('k2', { kind: 'cse', id: '/cse-meter-1' }));
    await run(c, cmd.provisionCredential('k2'));
    await run(c, associateOn('sa-2', 'k2', 'meter-2', '/cse-meter-1'));
    await c.settle();
    expect(await credential(c, 'k2')).toEqual(['enrolled', undefined]);
    expect(dependentsOf(c, 'node-meter-2')).toContain('credential-k2');
    await run(c, command('revokeNode', { nodeId: 'meter-2', reason: 'superseded' }, { actor: operator }));
    await c.settle();
    expect(await credential(c, 'k2')).toEqual(['revoked', 'superseded']);
  });

  it('a node whose enrolment expired leaves its CSE-ID the same way: cessation of operation', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    await run(c, command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    await c.settle();
    await run(c, issuedTo('k', { kind: 'cse', id: '/cse-meter-1' }));
    await c.settle();
    expect(await credential(c, 'k')).toEqual(['revoked', 'cessationOfOperation']);
  });

  it('an AE-ID released by its App-ID\'s revocation: a credential issued to it ends with the App-ID\'s reason', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await run(c, x);
    await run(c, command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
    await run(c, cmd.issueCredential('app-cred', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
    await run(c, cmd.provisionCredential('app-cred'));
    await run(c, command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' }, { actor: operator }));
    await run(c, command('configureAssociation', {
      associationId: 'sa-ae', nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }, registrarCseId: '/in-cse',
    }, { actor: operator }));
    await run(c, command('revokeApplication', { appId: 'Rbilling', reason: 'privilegeWithdrawn' }, { actor: operator }));
    await run(c, issuedTo('cbill', { kind: 'ae', id: 'Cbill' }));
    await c.settle();
    expect(await credential(c, 'cbill')).toEqual(['revoked', 'privilegeWithdrawn']);
  });

  it('an AE-ID named last by an association stored after its node ended (a race) is as good as released by that end', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    await run(c, command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
    await run(c, cmd.issueCredential('app-cred', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
    await run(c, cmd.provisionCredential('app-cred'));
    await run(c, command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' }, { actor: operator }));
    await run(c, revokeMeter1);
    await c.settle();
    // Decided before the revocation, stored after it.
    const commandId = crypto.randomUUID();
    const data = { associationId: 'sa-late', nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }, registrarCseId: '/in-cse' };
    await c.store.appendToStream('association-sa-late', [{
      id: eventIdFor(commandId, 0), type: 'AssociationConfigured', data: data as never,
      metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'configureAssociation', correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
    }], { expectedRevision: ExpectedRevision.noStream });
    await c.settle();
    await run(c, issuedTo('cbill', { kind: 'ae', id: 'Cbill' }));
    await c.settle();
    expect(await credential(c, 'cbill')).toEqual(['revoked', 'keyCompromise']);
  });

  it('a CSE-ID no node has held yet still waits for the first that enrols with it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    await run(c, issuedTo('ahead', { kind: 'cse', id: '/cse-new' }));
    await c.settle();
    expect(await credential(c, 'ahead')).toEqual(['initialized', undefined]);
    await run(c, enrolOnCse('meter-2', '/cse-new'));
    await c.settle();
    expect(dependentsOf(c, 'node-meter-2')).toContain('credential-ahead');
  });

  it('the cascade rebuilt from position 0 derives the same and writes nothing', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await fleet(c);
    await run(c, revokeMeter1);
    await run(c, issueK);
    await run(c, enrolOnCse('meter-2', '/cse-meter-1'));
    await run(c, issuedTo('k2', { kind: 'cse', id: '/cse-meter-1' }));
    await c.settle();
    const before = { log: await footprint(c.store), meter1: dependentsOf(c, 'node-meter-1'), meter2: dependentsOf(c, 'node-meter-2') };
    await c.runner.rebuild('cascade');
    await c.settle();
    expect({ log: await footprint(c.store), meter1: dependentsOf(c, 'node-meter-1'), meter2: dependentsOf(c, 'node-meter-2') }).toEqual(before);
    expect(before.meter1).toContain('credential-k');
    expect(before.meter2).toEqual(['credential-k2']);
    expect([await credential(c, 'k'), await credential(c, 'k2')]).toEqual([['revoked', 'keyCompromise'], ['initialized', undefined]]);
  });
});
