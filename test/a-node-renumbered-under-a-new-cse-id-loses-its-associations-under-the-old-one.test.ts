import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore, RecordedEvent } from '../domain/ports/event-store.ts';
import { cascadeProcessManager, type CascadeLog } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { countingSink } from './support/counting-sink.ts';
import { claimingStore } from './support/fact-claims.ts';
import { at, cmd, footprint, operator, system, T0 } from './support/fleet.ts';

/*
 * RS-01, found in review: a node re-enrolled under a new CSE-ID kept the associations it had made under the old one.
 * Moving a CSE-ID is a supported flow (a device replacement: meter-1 re-enrolled under a new CSE-ID, meter-2 enrolled
 * under meter-1's old one). The association machine refuses to establish an association whose CSE Registree is not
 * the CSE-ID its node holds (credentialBelongsToRegistree), but one established before stayed associated beside the
 * new holder's, and one configured and not yet established stayed initialized for good. The cascade now revokes
 * both when the re-enrolment lands (affiliationChanged: the Registree's identity moved, nothing was compromised);
 * a re-enrolment under the same CSE-ID (a change of subscription, RS-17) and an AE's associations are left alone.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const OLD_CSE = '/cse-meter-1';
const NEW_CSE = '/cse-meter-1-renumbered';
const renumber = (nodeId: string, cseId: string, subscriptionId = 'sub-1') => command('enrolNode', { nodeId, subscriptionId, cseId }, { actor: operator });
const aeAssociation = (associationId: string) =>
  command('configureAssociation', { associationId, nodeId: 'meter-1', credentialId: 'app-cred', registree: { kind: 'ae', id: 'Cbill', appId: 'Rbilling' }, registrarCseId: '/in-cse' }, { actor: operator });

/**
 * meter-1 enrolled under /cse-meter-1 with cred-1: sa-est established and sa-cfg configured under that CSE-ID, sa-gone
 * revoked by an operator before, and sa-ae an established association of the AE Cbill of the enrolled App-ID Rbilling.
 */
const meterWithAssociations = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const c of [
    cmd.createSubscription(), cmd.createSubscription('sub-2'), cmd.registerNode('meter-1'), cmd.registerNode('meter-2'), cmd.enrolNode('meter-1'),
    cmd.issueCredential('cred-1', 'meter-1', at(300)), cmd.provisionCredential('cred-1'),
    cmd.configureAssociation('sa-est', 'cred-1'), cmd.establishAssociation('sa-est'),
    cmd.configureAssociation('sa-cfg', 'cred-1'),
    cmd.configureAssociation('sa-gone', 'cred-1'), cmd.revokeAssociation('sa-gone', 'keyCompromise'),
    command('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' }, { actor: operator }),
    cmd.issueCredential('app-cred', 'Rbilling', at(300), { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } }),
    cmd.provisionCredential('app-cred'),
    command('enrolApplication', { appId: 'Rbilling', credentialId: 'app-cred' }, { actor: operator }),
    aeAssociation('sa-ae'), cmd.establishAssociation('sa-ae'),
  ]) await engine.execute(c);
};

/** The device replacement: meter-1 renumbered, meter-2 enrolled under meter-1's old CSE-ID. */
const replacement = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  await engine.execute(renumber('meter-1', NEW_CSE));
  await engine.execute(renumber('meter-2', OLD_CSE));
};

const all = async (store: EventStore): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
};
const association = async (c: Credence, id: string) => {
  const { snapshot } = await c.engine.entity('association', id);
  return [id, String(snapshot.value), snapshot.context.revocationReason];
};
const revocations = async (store: EventStore) => (await all(store)).filter((e) => e.type === 'AssociationRevoked');

describe('a node renumbered under a new CSE-ID loses its associations under the old one (RS-01)', () => {
  it('revokes the established and the configured ones, caused by the re-enrolment; ended ones and the AE\'s stay as they are', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await meterWithAssociations(c.engine);
    await c.settle();
    // A node's first enrolment revokes nothing.
    expect((await revocations(c.store)).map((e) => e.streamId)).toEqual(['association-sa-gone']);

    const renumbered = await c.engine.execute(renumber('meter-1', NEW_CSE));
    await c.engine.execute(renumber('meter-2', OLD_CSE));
    await c.settle();

    expect(await association(c, 'sa-est')).toEqual(['sa-est', 'revoked', 'affiliationChanged']);
    expect(await association(c, 'sa-cfg')).toEqual(['sa-cfg', 'revoked', 'affiliationChanged']);
    expect(await association(c, 'sa-gone')).toEqual(['sa-gone', 'revoked', 'keyCompromise']);
    expect(await association(c, 'sa-ae')).toEqual(['sa-ae', 'associated', undefined]);
    const byCascade = (await revocations(c.store)).filter((e) => e.streamId !== 'association-sa-gone');
    expect(byCascade.map((e) => e.streamId).sort()).toEqual(['association-sa-cfg', 'association-sa-est']);
    for (const e of byCascade) {
      expect(e.metadata['actor']).toEqual(system);
      expect(e.metadata['causationId']).toBe(renumbered.events[0]!.id);
    }
    // The association that was established is released from its node and credential; the AE's keeps the node associated.
    const released = (await all(c.store)).filter((e) => e.type.endsWith('AssociationReleased')).map((e) => [e.type, e.data['associationId']]);
    expect(released.sort()).toEqual([['CredentialAssociationReleased', 'sa-est'], ['NodeAssociationReleased', 'sa-est']]);
    expect(String((await c.engine.entity('node', 'meter-1')).snapshot.value)).toBe('associated');

    // meter-2, the new holder of the old CSE-ID, associates under it; meter-1 under its new one.
    for (const x of [
      cmd.issueCredential('cred-2', 'meter-2', at(300)), cmd.provisionCredential('cred-2'),
      command('configureAssociation', { associationId: 'sa-b', nodeId: 'meter-2', credentialId: 'cred-2', registree: { kind: 'cse', id: OLD_CSE }, registrarCseId: '/in-cse' }, { actor: operator }),
      cmd.establishAssociation('sa-b'),
      command('configureAssociation', { associationId: 'sa-a', nodeId: 'meter-1', credentialId: 'cred-1', registree: { kind: 'cse', id: NEW_CSE }, registrarCseId: '/in-cse' }, { actor: operator }),
      cmd.establishAssociation('sa-a'),
    ]) await c.engine.execute(x);
    await c.settle();
    expect([await association(c, 'sa-b'), await association(c, 'sa-a')]).toEqual([['sa-b', 'associated', undefined], ['sa-a', 'associated', undefined]]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a re-enrolment under the same CSE-ID (a change of subscription, RS-17) changes nothing', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await meterWithAssociations(c.engine);
    await c.settle();
    const before = await footprint(c.store);
    await c.engine.execute(renumber('meter-1', OLD_CSE, 'sub-2'));
    await c.settle();
    // The enrolment itself and nothing after it.
    expect((await all(c.store)).filter((e) => e.position > before.head!).map((e) => e.type)).toEqual(['NodeEnrolled']);
    expect(await association(c, 'sa-est')).toEqual(['sa-est', 'associated', undefined]);
    expect(await association(c, 'sa-cfg')).toEqual(['sa-cfg', 'initialized', undefined]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a rebuild of the cascade, and a catch-up with fresh read models, write nothing more', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await meterWithAssociations(c.engine);
    await replacement(c.engine);
    await c.settle();
    const before = await footprint(c.store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(c.store)).toEqual(before);

    // Every reaction of a catch-up from 0 is found done (its command recorded by the cascade) or its target ended:
    // none is decided again.
    const { sink, outcomes } = countingSink(c.engine);
    const log: Parameters<CascadeLog>[0][] = [];
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    await new ProjectionRunner({ db, store: c.store, projections: [cascadeProcessManager(sink, (entry) => log.push(entry))], batchSize: 7 }).catchUp();
    expect(outcomes).toEqual([]);
    expect(log.filter((entry) => entry.command === 'revokeAssociation').map((entry) => [entry.outcome, entry.target]).sort()).toEqual([
      ['duplicate', 'sa-cfg'],
      ['duplicate', 'sa-est'],
    ]);
    expect(log.filter((entry) => entry.outcome !== 'duplicate' && entry.outcome !== 'skipped')).toEqual([]);
    expect(await footprint(c.store)).toEqual(before);
    db.close();
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a cascade that first sees the re-enrolment on resuming revokes them once; the next resume writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    // Recorded with no cascade running: the cascade meets every event on its first catch-up.
    const engine = createEngine({ store, clock });
    await meterWithAssociations(engine);
    await replacement(engine);
    const first = openCredence({ location: { memory: true }, clock, store });
    await first.settle();
    await first.runner.stop();
    expect((await revocations(store)).map((e) => [e.streamId, e.data['reason']]).sort()).toEqual([
      ['association-sa-cfg', 'affiliationChanged'],
      ['association-sa-est', 'affiliationChanged'],
      ['association-sa-gone', 'keyCompromise'],
    ]);
    const before = await footprint(store);
    const second = (credence = openCredence({ location: { memory: true }, clock, store }));
    await second.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('a cascade behind a node that moved away and back (A, B, A) keeps the association it established back under A', async () => {
    // Found in review: the reaction to the move to B judged the associations as of that event only, so a rebuild (the
    // schema's, on upgrade) or a cascade that was behind revoked one the node had established after coming back to A.
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    for (const c of [
      cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'),
      cmd.issueCredential('cred-1', 'meter-1', at(300)), cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-back', 'cred-1'),
      renumber('meter-1', NEW_CSE), renumber('meter-1', OLD_CSE), cmd.establishAssociation('sa-back'),
    ]) await engine.execute(c);
    expect(String((await engine.entity('association', 'sa-back')).snapshot.value)).toBe('associated');
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await association(c, 'sa-back')).toEqual(['sa-back', 'associated', undefined]);
    expect((await revocations(store)).map((e) => e.streamId)).toEqual([]);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('an association decided before the re-enrolment and stored after it is revoked on arrival, and takes the old CSE-ID back from no one', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const plain = createEngine({ store, clock });
    await meterWithAssociations(plain);
    // What a store without conditions across streams (EventStoreDB) allows: the association claims meter-1 as it stood
    // under its old CSE-ID, the replacement lands, then the association's own event.
    const claiming = claimingStore(store, () => replacement(plain));
    await createEngine({ store: claiming, clock }).execute(cmd.configureAssociation('sa-late', 'cred-1'));
    expect((await all(store)).findIndex((e) => e.streamId === 'association-sa-late')).toBeGreaterThan(
      (await all(store)).findIndex((e) => e.type === 'NodeEnrolled' && e.data['cseId'] === OLD_CSE && e.data['nodeId'] === 'meter-2'),
    );
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await association(c, 'sa-late')).toEqual(['sa-late', 'revoked', 'affiliationChanged']);
    // /cse-meter-1 stays meter-2's: a credential issued to it follows meter-2, not meter-1.
    await c.engine.execute(cmd.issueCredential('cse-cred', 'meter-2', at(300), { owner: { kind: 'cse', id: OLD_CSE, nodeId: 'meter-2' } }));
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(String((await c.engine.entity('credential', 'cse-cred')).snapshot.value)).not.toBe('revoked');
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'superseded' }, { actor: operator }));
    await c.settle();
    expect(String((await c.engine.entity('credential', 'cse-cred')).snapshot.value)).toBe('revoked');
    expect((await replayAll(store)).findings).toEqual([]);
  });
});
