import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * RS-01 and the revocation cascade: a credential may be bound to a node's CSE-ID or to an AE-ID instead of the node
 * itself. Revoking the node (or the App-ID the AE is an instance of) left those credentials valid, and with them any
 * certificate a relying party checks by OCSP or CRL. They now follow the node and the App-ID their identifier belongs
 * to, whether the credential was issued before or after the event that says so.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const run = (c: Credence, x: unknown) => c.engine.execute(x);
const state = async (c: Credence, id: string) => String((await c.engine.entity('credential', id)).snapshot.value);
const reasonOf = async (c: Credence, id: string) => (await c.engine.entity('credential', id)).snapshot.context['revocationReason'];
/** The App-ID Rbilling, registered and enrolled on its own credential app-cred. */
const enrolledBilling = async (c: Credence): Promise<void> => {
  await run(c, command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }));
  await run(c, cmd.issueCredential('app-cred', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }));
  await run(c, cmd.provisionCredential('app-cred'));
  await run(c, command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' }, { actor: operator }));
};
/** AE Cbill of Rbilling on `node`, through association `sa`. */
const aeAssociation = (sa: string, node: string) =>
  command('configureAssociation', { associationId: sa, nodeId: node, credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }, registrarCseId: '/in-cse' }, { actor: operator });

/** What a race leaves in the store: `aeAssociation(sa, node)` decided before its node ended, stored after it. */
const storeRaced = async (c: Credence, sa: string, node: string): Promise<void> => {
  const commandId = crypto.randomUUID();
  await c.store.appendToStream(`association-${sa}`, [{
    id: eventIdFor(commandId, 0), type: 'AssociationConfigured', data: aeAssociation(sa, node).data as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'configureAssociation', correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
  }], { expectedRevision: ExpectedRevision.noStream });
};

/** A CredentialIssued as stored before review 41: its owner names no holder. */
const storeOldShape = async (c: Credence, credentialId: string, owner: Record<string, unknown>): Promise<void> => {
  const commandId = crypto.randomUUID();
  await c.store.appendToStream(`credential-${credentialId}`, [{
    id: eventIdFor(commandId, 0), type: 'CredentialIssued', data: { ...(issuedTo(credentialId, { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }).data as Record<string, unknown>), owner } as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'issueCredential', correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
  }], { expectedRevision: ExpectedRevision.noStream });
};

/** Issued to a CSE-ID, naming the node that holds it, or to an AE-ID, naming its App-ID (review 41). */
const issuedTo = (credentialId: string, owner: { kind: 'cse'; id: string; nodeId: string } | { kind: 'ae'; id: string; appId: string }) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { owner });

describe('the cascade revokes the credentials of a node\'s CSE and AEs with it', () => {
  it('a CSE\'s credential names the node holding the CSE-ID (none before the enrolment that names it) and is revoked with it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await run(c, cmd.createSubscription());
    await run(c, cmd.registerNode('meter-1'));
    // Review 41: before the enrolment, meter-1 holds no CSE-ID, so none is issued to it.
    await expect(run(c, issuedTo('cse-early', { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' }))).rejects.toMatchObject({ problem: { rule: 'ownerIsLive' } });
    await run(c, cmd.enrolNode('meter-1'));
    await run(c, issuedTo('cse-late', { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' }));
    await run(c, cmd.provisionCredential('cse-late'));
    // Another node's CSE is left alone.
    await run(c, cmd.registerNode('meter-2'));
    await run(c, cmd.enrolNode('meter-2'));
    await run(c, issuedTo('cse-other', { kind: 'cse', id: '/cse-meter-2', nodeId: 'meter-2' }));
    await c.settle();

    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect([await state(c, 'cse-late'), await reasonOf(c, 'cse-late')]).toEqual(['revoked', 'keyCompromise']);
    expect(await state(c, 'cse-other')).not.toBe('revoked');
  });

  it('a revoked node gives up its CSE-ID: a credential for it is issued to the node that enrols with it next', async () => {
    // A device replaced: the new meter takes the old one's CSE-ID (found in review: it was revoked at once).
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2')]) await run(c, x);
    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    // Review 41: not to the revoked node, nor to the next before it holds the CSE-ID.
    for (const nodeId of ['meter-1', 'meter-2']) {
      await expect(run(c, issuedTo('for-replacement', { kind: 'cse', id: '/cse-meter-1', nodeId }))).rejects.toMatchObject({ problem: { rule: 'ownerIsLive' } });
    }
    await run(c, command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: '/cse-meter-1' }, { actor: operator }));
    await run(c, issuedTo('for-replacement', { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-2' }));
    await c.settle();
    expect(await state(c, 'for-replacement')).not.toBe('revoked');
    await run(c, command('revokeNode', { nodeId: 'meter-2', reason: 'superseded' }, { actor: operator }));
    await c.settle();
    expect([await state(c, 'for-replacement'), await reasonOf(c, 'for-replacement')]).toEqual(['revoked', 'cessationOfOperation']);
  });

  it('a node whose enrolment expired gives up its CSE-ID too (as final as a revocation)', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription('sub-1'), cmd.createSubscription('sub-2'), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1', 'sub-1')]) await run(c, x);
    await run(c, command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    await c.settle();
    await expect(run(c, issuedTo('for-meter-1', { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' }))).rejects.toMatchObject({ problem: { rule: 'ownerIsLive' } });
    await run(c, command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-2', cseId: '/cse-meter-1' }, { actor: operator }));
    await run(c, issuedTo('for-replacement', { kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-2' }));
    await c.settle();
    expect(await state(c, 'for-replacement')).toBe('initialized');
  });

  it('an association stored after its node ended takes no identifier back from the live node that has it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) await run(c, x);
    await enrolledBilling(c);
    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await run(c, aeAssociation('sa-2', 'meter-2'));
    await run(c, cmd.establishAssociation('sa-2'));
    await c.settle();
    await storeRaced(c, 'sa-late', 'meter-1');
    await c.settle();
    await run(c, issuedTo('cbill-2', { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }));
    await c.settle();
    expect(await state(c, 'cbill-2')).toBe('initialized');
    await run(c, command('revokeNode', { nodeId: 'meter-2', reason: 'superseded' }, { actor: operator }));
    await c.settle();
    expect(await state(c, 'cbill-2')).toBe('revoked');
  });

  it('a credential is never handed to the next holder of its CSE-ID: it ends as its node moves off it (review 44)', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.registerNode('meter-2')]) await run(c, x);
    await run(c, command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-x' }, { actor: operator }));
    await run(c, issuedTo('of-meter-1', { kind: 'cse', id: '/cse-x', nodeId: 'meter-1' }));
    // meter-1 moves to another CSE-ID and meter-2 takes /cse-x: of-meter-1 is revoked with the move (review 44; it
    // stayed live before, beside the next holder's), never as meter-2's.
    await run(c, command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/cse-y' }, { actor: operator }));
    await run(c, command('enrolNode', { nodeId: 'meter-2', subscriptionId: 'sub-1', cseId: '/cse-x' }, { actor: operator }));
    await run(c, issuedTo('of-meter-2', { kind: 'cse', id: '/cse-x', nodeId: 'meter-2' }));
    await c.settle();
    await run(c, command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect([await state(c, 'of-meter-1'), await reasonOf(c, 'of-meter-1')]).toEqual(['revoked', 'affiliationChanged']);
    expect([await state(c, 'of-meter-2'), await reasonOf(c, 'of-meter-2')]).toEqual(['revoked', 'keyCompromise']);
  });

  it('an AE that moved off a revoked node: a credential issued to it after follows its new node', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) await run(c, x);
    await enrolledBilling(c);
    const configure = (sa: string, node: string) =>
      command('configureAssociation', { associationId: sa, nodeId: node, credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }, registrarCseId: '/in-cse' }, { actor: operator });
    // Review 49: the instance runs where an association of it is established, not only configured.
    await run(c, configure('sa-1', 'meter-1'));
    await run(c, cmd.establishAssociation('sa-1'));
    // Decommissioned: a keyCompromise would take app-cred, which the AE signed in with on meter-1 (review 249).
    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'cessationOfOperation' }, { actor: operator }));
    await c.settle();
    await run(c, configure('sa-2', 'meter-2'));
    await run(c, cmd.establishAssociation('sa-2'));
    await run(c, issuedTo('cbill-2', { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }));
    await c.settle();
    expect(await state(c, 'cbill-2')).toBe('initialized');
    await run(c, command('revokeNode', { nodeId: 'meter-2', reason: 'superseded' }, { actor: operator }));
    await c.settle();
    expect([await state(c, 'cbill-2'), await reasonOf(c, 'cbill-2')]).toEqual(['revoked', 'cessationOfOperation']);
  });

  it('credentials waiting for their AE\'s owner end with it when the association naming it is stored after the node ended', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1')]) await run(c, x);
    await enrolledBilling(c);
    // A credential stored before review 41 names no App-ID: it waits for the AE-ID's first association, as it did.
    await storeOldShape(c, 'cbill', { kind: 'ae', id: 'Cbill' });
    // One naming its App-ID follows the nodes its instance is established on (review 49): a node it was never
    // established on takes nothing of it, not even through an association stored after that node ended.
    await run(c, issuedTo('cbill-named', { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }));
    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    // What a race leaves (found in review): the association decided before the revocation, stored after it.
    await storeRaced(c, 'sa-late', 'meter-1');
    await c.settle();
    expect([await state(c, 'cbill'), await reasonOf(c, 'cbill')]).toEqual(['revoked', 'keyCompromise']);
    expect(await state(c, 'cbill-named')).toBe('initialized');
  });

  it('an AE\'s credential is revoked with the node it runs on, and with its App-ID', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) await run(c, x);
    await enrolledBilling(c);
    // Two instances of the App-ID, on two nodes; each AE holds a credential of its own.
    for (const [ae, node] of [['Cbill1', 'meter-1'], ['Cbill2', 'meter-2']] as const) {
      await run(c, issuedTo(`${ae}-cred`, { kind: 'ae', id: ae, appId: 'Rbilling' }));
      await run(c, command('configureAssociation', {
        associationId: `sa-${ae}`, nodeId: node, credentialId: 'app-cred', registree: { kind: 'ae', id: ae, appId: 'Rbilling' }, registrarCseId: '/in-cse',
      }, { actor: operator }));
      await run(c, cmd.establishAssociation(`sa-${ae}`));
    }
    await c.settle();
    await run(c, command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(await state(c, 'Cbill1-cred')).toBe('revoked');
    expect(await state(c, 'Cbill2-cred')).not.toBe('revoked');
    await run(c, command('revokeApplication', { appId: 'Rbilling', reason: 'privilegeWithdrawn' }, { actor: operator }));
    await c.settle();
    expect([await state(c, 'Cbill2-cred'), await reasonOf(c, 'Cbill2-cred')]).toEqual(['revoked', 'privilegeWithdrawn']);
  });
});
