import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { LIFECYCLE_COMMANDS } from '../bin/commands/lifecycle-catalog.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';
import { enrolledApplication, entityState as state, racing } from './support/credential-holders.ts';

/*
 * Review 41 (RS-01): a credential issued to a CSE-ID or an AE-ID was decided without reading who holds that
 * identifier, so an end of its holder committing at the same moment did not conflict with it. Issued just after
 * revokeNode(meter-1) committed, a credential for meter-1's CSE-ID stayed live after the cascade settled, reached no
 * CRL, and went to the next node enrolled under that CSE-ID; the same for an AE-ID as its App-ID was revoked. Such a
 * credential now names its holder (owner.nodeId, owner.appId), the decision reads it (ownerIsLive), the cascade
 * follows it, and an association on it must be that holder's. Events stored before, which name none, replay as they
 * were decided.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const CSE = '/cse-meter-1';
const APP = 'Rbilling';
const cseCred = (credentialId = 'cse-cred', nodeId = 'meter-1', cseId = CSE) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'cse', id: cseId, nodeId } });
const aeCred = (credentialId = 'ae-cred', appId = APP) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cbill', appId } });
/** An association of `nodeId` as the CSE Registree /cse-meter-1 on `credentialId`. */
const underCse = (associationId: string, credentialId: string, nodeId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: CSE }, registrarCseId: '/in-cse' }, { actor: operator });
const revokeNode = (nodeId = 'meter-1') => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator });
const enrolUnder = (nodeId: string, cseId: string) => command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId }, { actor: operator });

/** A plain engine (no cascade) over a store with meter-1 enrolled under /cse-meter-1. */
const plainFleet = async () => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  const engine = createEngine({ store, clock });
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await engine.execute(x);
  return { store, clock, engine };
};

describe('a credential issued to a CSE-ID or AE-ID names its holder and cannot outlive it (review 41, RS-01)', () => {
  it('a CSE-ID credential issued once revokeNode committed is refused, naming the rule and state, and writes nothing', async () => {
    const { store, engine } = await plainFleet();
    await engine.execute(revokeNode());
    const before = await footprint(store);
    const error = await rejection(engine.execute(cseCred()));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', streamId: 'credential-cse-cred', state: 'absent', attempted: 'CredentialIssued', rule: 'ownerIsLive' });
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('decided before revokeNode commits and appended after, it conflicts, is decided again and refused', async () => {
    const { store, clock, engine } = await plainFleet();
    const raced = createEngine({ store: racing(store, 'credential-cse-cred', async () => void (await engine.execute(revokeNode()))), clock });
    const error = await rejection(raced.execute(cseCred()));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', rule: 'ownerIsLive' });
    expect(String((await engine.entity('node', 'meter-1')).snapshot.value)).toBe('revoked');
    expect(String((await engine.entity('credential', 'cse-cred')).snapshot.value)).toBe('absent');
  });

  it('nor once the enrolment expired with a terminated subscription', async () => {
    const { store, engine } = await plainFleet();
    await engine.execute(command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    await engine.execute(command('expireNodeEnrolment', { nodeId: 'meter-1', subscriptionId: 'sub-1' }, { actor: operator }));
    const before = await footprint(store);
    expect((await rejection(engine.execute(cseCred()))).problem).toMatchObject({ code: 'illegal_transition', state: 'absent', rule: 'ownerIsLive' });
    expect(await footprint(store)).toEqual(before);
  });

  it('nor to a node that does not hold the CSE-ID (not yet, or no longer)', async () => {
    const { engine } = await plainFleet();
    await engine.execute(cmd.registerNode('meter-2'));
    expect((await rejection(engine.execute(cseCred('to-unenrolled', 'meter-2')))).problem).toMatchObject({ rule: 'ownerIsLive' });
    await engine.execute(enrolUnder('meter-1', '/cse-meter-1-renumbered'));
    expect((await rejection(engine.execute(cseCred('to-old', 'meter-1')))).problem).toMatchObject({ rule: 'ownerIsLive' });
  });

  it('issued first, it is revoked by the cascade with its node, and the next holder of the CSE-ID gets nothing of it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2')]) await c.engine.execute(x);
    await c.engine.execute(cseCred());
    await c.engine.execute(cmd.provisionCredential('cse-cred'));
    await c.engine.execute(revokeNode());
    await c.settle();
    expect(await state(c.engine, 'credential', 'cse-cred')).toEqual(['cse-cred', 'revoked', 'keyCompromise']);
    // meter-2 takes the CSE-ID: it is refused a credential named for meter-1, and associates on none of meter-1's.
    await c.engine.execute(enrolUnder('meter-2', CSE));
    expect((await rejection(c.engine.execute(cseCred('for-meter-1-again', 'meter-1')))).problem).toMatchObject({ rule: 'ownerIsLive' });
    expect((await rejection(c.engine.execute(underCse('sa-2', 'cse-cred', 'meter-2')))).problem).toMatchObject({ code: 'illegal_transition', state: 'absent' });
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  // Review 44 changed this: it stayed `enrolled` when its node moved to another CSE-ID, two live credentials for one
  // CSE-ID once the next holder had its own; it is revoked `affiliationChanged` now, as the node's associations are.
  it('a CSE-ID credential is revoked affiliationChanged when its node moves to another CSE-ID; the new holder cannot associate on it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2')]) await c.engine.execute(x);
    await c.engine.execute(cseCred());
    await c.engine.execute(cmd.provisionCredential('cse-cred'));
    // meter-1 is renumbered, and meter-2 enrols under meter-1's old CSE-ID.
    await c.engine.execute(enrolUnder('meter-1', '/cse-meter-1-renumbered'));
    await c.engine.execute(enrolUnder('meter-2', CSE));
    await c.settle();
    expect(await state(c.engine, 'credential', 'cse-cred')).toEqual(['cse-cred', 'revoked', 'affiliationChanged']);
    const before = await footprint(c.store);
    const error = await rejection(c.engine.execute(underCse('sa-2', 'cse-cred', 'meter-2')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'AssociationConfigured' });
    expect(await footprint(c.store)).toEqual(before);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a successor for the next holder of the CSE-ID does not take over the last holder\'s credential (predecessorIsLive)', async () => {
    const { store, engine } = await plainFleet();
    await engine.execute(cmd.registerNode('meter-2'));
    await engine.execute(cseCred());
    await engine.execute(cmd.provisionCredential('cse-cred'));
    await engine.execute(enrolUnder('meter-1', '/cse-meter-1-renumbered'));
    await engine.execute(enrolUnder('meter-2', CSE));
    const successor = (nodeId: string) =>
      cmd.issueCredential(`succ-${nodeId}`, 'meter-1', at(300), { owner: { kind: 'cse', id: CSE, nodeId }, predecessorId: 'cse-cred' });
    const before = await footprint(store);
    expect((await rejection(engine.execute(successor('meter-2')))).problem).toMatchObject({ code: 'illegal_transition', state: 'absent', rule: 'predecessorIsLive' });
    expect(await footprint(store)).toEqual(before);
  });

  it('its own node associates on it while it holds the CSE-ID', async () => {
    const { engine, store } = await plainFleet();
    await engine.execute(cseCred());
    await engine.execute(cmd.provisionCredential('cse-cred'));
    await engine.execute(cmd.configureAssociation('sa-1', 'cse-cred', 'meter-1'));
    await engine.execute(cmd.establishAssociation('sa-1'));
    expect((await state(engine, 'association', 'sa-1'))[1]).toBe('associated');
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('provisioning a CSE-ID credential under a terminated subscription is refused, as a node credential is', async () => {
    const { store, engine } = await plainFleet();
    await engine.execute(cseCred());
    await engine.execute(cmd.issueCredential('node-cred'));
    // Terminated; no cascade here, so meter-1 stays enrolled under it.
    await engine.execute(command('terminateSubscription', { subscriptionId: 'sub-1', reason: 'contract ended' }, { actor: operator }));
    expect(String((await engine.entity('node', 'meter-1')).snapshot.value)).toBe('enrolled');
    const before = await footprint(store);
    for (const id of ['node-cred', 'cse-cred']) {
      const error = await rejection(engine.execute(cmd.provisionCredential(id)));
      expect([id, error.problem]).toMatchObject([id, { code: 'illegal_transition', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'subscriptionServes' }]);
    }
    expect(await footprint(store)).toEqual(before);
  });

  it('an AE-ID credential issued once revokeApplication committed is refused; issued first, it is revoked with the App-ID', async () => {
    const { store, engine } = await plainFleet();
    await enrolledApplication(engine, APP);
    await engine.execute(command('revokeApplication', { appId: APP, reason: 'keyCompromise' }, { actor: operator }));
    const before = await footprint(store);
    expect((await rejection(engine.execute(aeCred()))).problem).toMatchObject({ code: 'illegal_transition', state: 'absent', attempted: 'CredentialIssued', rule: 'ownerIsLive' });
    expect(await footprint(store)).toEqual(before);

    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
    await enrolledApplication(c.engine, APP);
    await c.engine.execute(aeCred());
    await c.engine.execute(cmd.provisionCredential('ae-cred'));
    // No association has named the AE yet: the credential follows the App-ID it names.
    await c.engine.execute(command('revokeApplication', { appId: APP, reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('an AE-ID credential backs only its own App-ID\'s AE: another App-ID configuring an AE of that AE-ID is refused', async () => {
    const { store, engine } = await plainFleet();
    await enrolledApplication(engine, APP);
    await enrolledApplication(engine, 'Rother');
    await engine.execute(aeCred());
    await engine.execute(cmd.provisionCredential('ae-cred'));
    const configure = (associationId: string, appId: string) =>
      command('configureAssociation', { associationId, nodeId: 'meter-1', credentialId: 'ae-cred', registree: { kind: 'ae', id: 'Cbill', appId }, registrarCseId: '/in-cse' }, { actor: operator });
    const before = await footprint(store);
    expect((await rejection(engine.execute(configure('sa-other', 'Rother')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'credentialBelongsToRegistree' });
    expect(await footprint(store)).toEqual(before);
    await engine.execute(configure('sa-own', APP));
    expect((await state(engine, 'association', 'sa-own'))[1]).toBe('initialized');
  });

  it('a new command for a CSE-ID or AE-ID must name its holder, and no other owner names one (a validation error)', async () => {
    const { store, engine } = await plainFleet();
    const before = await footprint(store);
    const issue = (owner: Record<string, unknown>) => cmd.issueCredential('c', 'meter-1', at(300), { owner });
    const cases: [Record<string, unknown>, string][] = [
      [{ kind: 'cse', id: CSE }, 'owner.nodeId'],
      [{ kind: 'ae', id: 'Cbill' }, 'owner.appId'],
      [{ kind: 'node', id: 'meter-1', nodeId: 'meter-1' }, 'owner.nodeId'],
      [{ kind: 'cse', id: CSE, nodeId: 'meter-1', appId: APP }, 'owner.appId'],
    ];
    for (const [owner, path] of cases) {
      const error = await rejection(engine.execute(issue(owner)));
      expect(error.problem.code).toBe('validation');
      expect((error.problem as unknown as { issues: { path: string }[] }).issues.map((i) => i.path)).toContain(`data.${path}`);
    }
    expect(await footprint(store)).toEqual(before);
  });

  it('the CLI\'s --owner names the holder after @: cse:ID@node:N, ae:ID@app:A', async () => {
    const issue = LIFECYCLE_COMMANDS.find((spec) => spec.type === 'issueCredential')!;
    const ownerOf = (value: string) => issue.data('c', { owner: value }, () => new Date(T0))['owner'];
    expect(ownerOf('cse:/cse-meter-1@node:meter-1')).toEqual({ kind: 'cse', id: '/cse-meter-1', nodeId: 'meter-1' });
    expect(ownerOf('ae:Cbill@app:Rbilling')).toEqual({ kind: 'ae', id: 'Cbill', appId: 'Rbilling' });
    expect(ownerOf('node:meter-1')).toEqual({ kind: 'node', id: 'meter-1' });
    // A holder of no known kind stays in the id, for the schema to refuse; a CSE-ID with no holder names none.
    expect(ownerOf('cse:/cse-meter-1@sub:x')).toEqual({ kind: 'cse', id: '/cse-meter-1@sub:x' });
    expect(ownerOf('cse:/cse-meter-1')).toEqual({ kind: 'cse', id: '/cse-meter-1' });
    const { engine } = await plainFleet();
    const data = { ...(cseCred().data as Record<string, unknown>), owner: ownerOf('cse:/cse-meter-1@node:meter-1') };
    await engine.execute(command('issueCredential', data, { actor: operator }));
    expect((await engine.entity('credential', 'cse-cred')).snapshot.context['owner']).toEqual({ kind: 'cse', id: CSE, nodeId: 'meter-1' });
  });

  it('an event stored before owners named their holder still reads, replays without findings, and follows the identifier', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(x);
    // The old shape, as stored before review 41: a CSE owner naming no node.
    const commandId = crypto.randomUUID();
    const { owner: _named, ...data } = cseCred('legacy-cse').data as Record<string, unknown>;
    await c.store.appendToStream('credential-legacy-cse', [{
      id: eventIdFor(commandId, 0), type: 'CredentialIssued', data: { ...data, owner: { kind: 'cse', id: CSE } } as never,
      metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'issueCredential', correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
    }], { expectedRevision: ExpectedRevision.noStream });
    await c.engine.execute(cmd.provisionCredential('legacy-cse'));
    await c.engine.execute(cmd.configureAssociation('sa-1', 'legacy-cse', 'meter-1'));
    await c.engine.execute(cmd.establishAssociation('sa-1'));
    await c.settle();
    expect((await c.engine.entity('credential', 'legacy-cse')).snapshot.context['owner']).toEqual({ kind: 'cse', id: CSE });
    await c.engine.execute(revokeNode());
    await c.settle();
    expect(await state(c.engine, 'credential', 'legacy-cse')).toEqual(['legacy-cse', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
