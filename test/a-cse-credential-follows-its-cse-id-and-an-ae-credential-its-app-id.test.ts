import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command, CommandSchema } from '../domain/commands/index.ts';
import { CredentialProvisioned } from '../domain/events/credential.ts';
import { recordedReceipt } from '../domain/protocols/recorded-receipt.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { provisionedUnder } from '../projections/compliance/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';
import { enrolledApplication, entityState as state, racing } from './support/credential-holders.ts';
import { provision, provisioningWorld } from './provisioning-protocol.fixtures.ts';

/*
 * Review 44 (RS-01) of review 41's holders. F1: a credential issued to a CSE-ID naming its node stayed live when the
 * node was renumbered, and one issued before the move could still be provisioned after it: two live credentials for
 * one CSE-ID (certificates carry it as a `urn:onem2m:cse:` SAN) once the next holder had its own. The cascade now
 * revokes it `affiliationChanged` on the node's re-enrolment under another CSE-ID, and provisioning it needs its node
 * to hold the CSE-ID (cseIdHeldByItsNode). F2: an AE-ID's credential naming its App-ID followed whoever used the AE-ID
 * last, even another App-ID; it follows only that App-ID's instance now. F3: the compliance `provisioned` query
 * credited a named CSE credential to the identifier's holder, not its node. F4: a successor naming a node took over
 * a credential stored before owners named theirs, held by another node.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const CSE = '/cse-meter-1';
const RENUMBERED = '/cse-meter-1-renumbered';
const cseCred = (credentialId = 'cse-cred', nodeId = 'meter-1', extra: Record<string, unknown> = {}) =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'cse', id: CSE, nodeId }, ...extra });
const aeCred = (credentialId = 'ae-cred', appId = 'Rbilling') =>
  cmd.issueCredential(credentialId, 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cbill', appId } });
const underCse = (associationId: string, credentialId: string, nodeId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'cse', id: CSE }, registrarCseId: '/in-cse' }, { actor: operator });
/** AE Cbill of `appId` on `nodeId`, on `credentialId`. */
const underAe = (associationId: string, credentialId: string, nodeId: string, appId: string) =>
  command('configureAssociation', { associationId, nodeId, credentialId, registree: { kind: 'ae', id: 'Cbill', appId }, registrarCseId: '/in-cse' }, { actor: operator });
const revokeNode = (nodeId = 'meter-1') => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator });
const revokeApplication = (appId: string) => command('revokeApplication', { appId, reason: 'keyCompromise' }, { actor: operator });
const enrolUnder = (nodeId: string, cseId: string, subscriptionId = 'sub-1') => command('enrolNode', { nodeId, subscriptionId, cseId }, { actor: operator });
/** Stores a CredentialIssued as before review 41 (its owner naming no holder). */
const storeOldShape = async (store: EventStore, issued: ReturnType<typeof cmd.issueCredential>, owner: Record<string, unknown>, now: Date): Promise<void> => {
  const commandId = crypto.randomUUID();
  const data = issued.data as Record<string, unknown>;
  await store.appendToStream(`credential-${String(data['credentialId'])}`, [{
    id: eventIdFor(commandId, 0), type: 'CredentialIssued', data: { ...data, owner } as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'issueCredential', correlationId: commandId, causationId: commandId, occurredAt: now.toISOString() },
  }], { expectedRevision: ExpectedRevision.noStream });
};
const plainFleet = async () => {
  const store = openSqliteStore({ memory: true });
  const clock = new FakeClock(T0);
  const engine = createEngine({ store, clock });
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2')]) await engine.execute(x);
  return { store, clock, engine };
};
const fleet = async () => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2')]) await c.engine.execute(x);
  return c;
};

describe('a CSE-ID credential follows its node as that CSE-ID\'s holder (review 44 F1, RS-01)', () => {
  it('renumbered, the node\'s named CSE credentials are revoked affiliationChanged with its associations; old-shape ones stay', async () => {
    const c = await fleet();
    await c.engine.execute(cseCred());
    await c.engine.execute(cmd.provisionCredential('cse-cred'));
    await c.engine.execute(underCse('sa-1', 'cse-cred', 'meter-1'));
    await c.engine.execute(cmd.establishAssociation('sa-1'));
    await c.engine.execute(cseCred('cse-cred-2'));
    // A node's own credential and one stored before owners named their node keep their old behaviour.
    await c.engine.execute(cmd.issueCredential('node-cred'));
    await storeOldShape(c.store, cseCred('legacy-cse'), { kind: 'cse', id: CSE }, c.engine.clock.now());
    await c.settle();
    await c.engine.execute(enrolUnder('meter-1', RENUMBERED));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-1')).toEqual(['sa-1', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'credential', 'cse-cred')).toEqual(['cse-cred', 'revoked', 'affiliationChanged']);
    expect(await state(c.engine, 'credential', 'cse-cred-2')).toEqual(['cse-cred-2', 'revoked', 'affiliationChanged']);
    expect((await state(c.engine, 'credential', 'node-cred'))[1]).toBe('initialized');
    expect((await state(c.engine, 'credential', 'legacy-cse'))[1]).toBe('initialized');
    // meter-2 takes the CSE-ID and its own credential: the only live one naming it.
    await c.engine.execute(enrolUnder('meter-2', CSE));
    await c.engine.execute(cseCred('cse-cred-meter-2', 'meter-2'));
    await c.engine.execute(cmd.provisionCredential('cse-cred-meter-2'));
    // A credential for the renumbered CSE-ID is not touched by a re-enrolment under the same one (RS-17): a move to
    // another subscription keeping it (one under the same subscription too changes nothing, and is refused: review 295).
    await c.engine.execute(cmd.issueCredential('renumbered-cred', 'meter-1', at(300), { owner: { kind: 'cse', id: RENUMBERED, nodeId: 'meter-1' } }));
    await c.engine.execute(cmd.createSubscription('sub-2'));
    await c.engine.execute(enrolUnder('meter-1', RENUMBERED, 'sub-2'));
    await c.settle();
    expect((await state(c.engine, 'credential', 'renumbered-cred'))[1]).toBe('initialized');
    expect((await state(c.engine, 'credential', 'cse-cred-meter-2'))[1]).toBe('enrolled');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('one issued before the move is not provisioned after it (cseIdHeldByItsNode), even with no cascade, and nothing is written', async () => {
    const { store, engine } = await plainFleet();
    await engine.execute(cseCred('cse-cred-2'));
    await engine.execute(enrolUnder('meter-1', RENUMBERED));
    const before = await footprint(store);
    const error = await rejection(engine.execute(cmd.provisionCredential('cse-cred-2')));
    expect(error.problem).toMatchObject({ code: 'illegal_transition', streamId: 'credential-cse-cred-2', state: 'initialized', attempted: 'CredentialProvisioned', rule: 'cseIdHeldByItsNode' });
    expect(await footprint(store)).toEqual(before);
    // Back under the CSE-ID (A, B, A), the node provisions it: the rule reads the node now.
    await engine.execute(enrolUnder('meter-1', CSE));
    await engine.execute(cmd.provisionCredential('cse-cred-2'));
    expect((await state(engine, 'credential', 'cse-cred-2'))[1]).toBe('enrolled');
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('decided before the re-enrolment commits and appended after, the provisioning conflicts, is decided again and refused', async () => {
    const { store, clock, engine } = await plainFleet();
    await engine.execute(cseCred('cse-cred-2'));
    const raced = createEngine({ store: racing(store, 'credential-cse-cred-2', async () => void (await engine.execute(enrolUnder('meter-1', RENUMBERED)))), clock });
    expect((await rejection(raced.execute(cmd.provisionCredential('cse-cred-2')))).problem).toMatchObject({ code: 'illegal_transition', rule: 'cseIdHeldByItsNode' });
    expect((await state(engine, 'credential', 'cse-cred-2'))[1]).toBe('initialized');
    expect((await replayAll(store)).findings).toEqual([]);
  });
});

describe('an AE-ID credential follows only its App-ID\'s instance of the AE-ID (review 44 F2, RS-01)', () => {
  /** Rother runs AE Cbill on meter-2 on its own credential; Rbilling's ae-cred names Cbill and Rbilling, provisioned. */
  const otherUsesTheAeId = async (): Promise<Credence> => {
    const c = await fleet();
    await enrolledApplication(c.engine, 'Rbilling');
    await enrolledApplication(c.engine, 'Rother');
    await c.engine.execute(underAe('sa-other', 'Rother-cred', 'meter-2', 'Rother'));
    await c.engine.execute(cmd.establishAssociation('sa-other'));
    await c.engine.execute(aeCred());
    await c.engine.execute(cmd.provisionCredential('ae-cred'));
    await c.settle();
    return c;
  };

  for (const [ending, revocation] of [['revokeApplication(Rother)', revokeApplication('Rother')], ['revokeNode(meter-2)', revokeNode('meter-2')]] as const) {
    it(`${ending} leaves Rbilling's ae-cred alone, though Rother used the AE-ID last`, async () => {
      const c = await otherUsesTheAeId();
      await c.engine.execute(revocation);
      await c.settle();
      expect((await state(c.engine, 'association', 'sa-other'))[1]).toBe('revoked');
      expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'enrolled', undefined]);
      expect((await replayAll(c.store)).findings).toEqual([]);
    });
  }

  it('once Rbilling runs Cbill on meter-1 with it, revokeNode(meter-1) revokes ae-cred', async () => {
    const c = await otherUsesTheAeId();
    await c.engine.execute(underAe('sa-own', 'ae-cred', 'meter-1', 'Rbilling'));
    await c.engine.execute(cmd.establishAssociation('sa-own'));
    await c.settle();
    await c.engine.execute(revokeNode('meter-1'));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-own')).toEqual(['sa-own', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect((await state(c.engine, 'association', 'sa-other'))[1]).toBe('associated');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('issued after its App-ID\'s instance is known, it follows that instance\'s node at once', async () => {
    const c = await fleet();
    await enrolledApplication(c.engine, 'Rbilling');
    await enrolledApplication(c.engine, 'Rother');
    // Known: established there (review 49: an association only configured is no node the instance runs on).
    await c.engine.execute(underAe('sa-own', 'Rbilling-cred', 'meter-1', 'Rbilling'));
    await c.engine.execute(cmd.establishAssociation('sa-own'));
    await c.engine.execute(underAe('sa-other', 'Rother-cred', 'meter-2', 'Rother'));
    await c.engine.execute(cmd.establishAssociation('sa-other'));
    await c.engine.execute(aeCred());
    await c.settle();
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect((await state(c.engine, 'credential', 'ae-cred'))[1]).toBe('initialized');
    await c.engine.execute(revokeNode('meter-1'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});

describe('the compliance provisioned query credits a named CSE credential to its node (review 44 F3)', () => {
  it('not to another node enrolled under the same CSE-ID later', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.createSubscription('sub-2'), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2')]) await c.engine.execute(x);
    await c.engine.execute(cseCred());
    // meter-2 enrols under meter-1's CSE-ID (nothing refuses two holders at once); meter-1 still holds it.
    await c.engine.execute(enrolUnder('meter-2', CSE, 'sub-2'));
    await c.engine.execute(cmd.provisionCredential('cse-cred'));
    await c.settle();
    expect(provisionedUnder(c.readModels, 'sub-1').map((r) => [r.credentialId, r.nodeId])).toEqual([['cse-cred', 'meter-1']]);
    expect(provisionedUnder(c.readModels, 'sub-2')).toEqual([]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});

describe('a successor naming a node never takes over a credential that names none (review 44 F4)', () => {
  it('refused for meter-2 after it took the CSE-ID, and for meter-1 too: nothing read says whose the old one was', async () => {
    const { store, clock, engine } = await plainFleet();
    await storeOldShape(store, cseCred('legacy-cse'), { kind: 'cse', id: CSE }, clock.now());
    await engine.execute(cmd.provisionCredential('legacy-cse'));
    const successor = (id: string, nodeId: string) => cseCred(id, nodeId, { predecessorId: 'legacy-cse' });
    // meter-1 itself, while it holds the CSE-ID: refused as well (the conservative rule).
    let before = await footprint(store);
    expect((await rejection(engine.execute(successor('succ-1', 'meter-1')))).problem).toMatchObject({ code: 'illegal_transition', state: 'absent', rule: 'predecessorIsLive' });
    expect(await footprint(store)).toEqual(before);
    await engine.execute(enrolUnder('meter-1', RENUMBERED));
    await engine.execute(enrolUnder('meter-2', CSE));
    before = await footprint(store);
    expect((await rejection(engine.execute(successor('succ-2', 'meter-2')))).problem).toMatchObject({ code: 'illegal_transition', state: 'absent', rule: 'predecessorIsLive' });
    expect(await footprint(store)).toEqual(before);
    // A successor naming a node takes over from its node's own named one, as before.
    await engine.execute(cseCred('named', 'meter-2'));
    await engine.execute(cmd.provisionCredential('named'));
    await engine.execute(cseCred('succ-named', 'meter-2', { predecessorId: 'named' }));
    expect((await state(engine, 'credential', 'succ-named'))[1]).toBe('initialized');
    expect((await replayAll(store)).findings).toEqual([]);
  });
});

describe('a provisioning receipt carries no holder: its signed statement covers the owner\'s kind and id only (review 44 note)', async () => {
  const world = await provisioningWorld({ seed: 'receipt-holder', bootstrapKind: 'p256' });
  const { outcome } = await provision(world, 'ed25519', 'node-0001-svc');
  const receipt = recordedReceipt(outcome);
  const withHolder = { ...receipt, credential: { ...receipt.credential, owner: { ...receipt.credential.owner, nodeId: 'meter-9' } } };
  const issuesOf = (r: unknown) => {
    const parsed = CommandSchema.safeParse({
      type: 'provisionCredential',
      data: { credentialId: 'node-0001-svc', method: 'remote-provisioning', bootstrapCredentialId: 'node-0001-boot', receipt: r },
      metadata: { commandId: '00000000-0000-4000-8000-000000000003', actor: operator },
    });
    return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
  };

  it('a new command naming a holder in the receipt is refused; the receipt the device and registrar build passes', () => {
    expect(issuesOf(receipt)).toEqual([]);
    expect(issuesOf(withHolder)).toEqual(['data.receipt.credential.owner']);
  });

  it('a stored receipt that named one is read without it', () => {
    const stored = CredentialProvisioned.parse({ credentialId: 'node-0001-svc', method: 'remote-provisioning', receipt: withHolder });
    expect((stored.receipt as typeof receipt).credential.owner).toEqual(receipt.credential.owner);
  });
});
