import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { derivedCommandId } from '../domain/event-ids.ts';
import { cascadeProcessManager, PROCESS_MANAGER_ACTOR } from '../projections/cascade/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';
import { configureAeInstance, enrolledApplication, entityState as state } from './support/credential-holders.ts';

/*
 * RS-01 (review 48): App-ID RA's instance under AE-ID Cx runs on a node once an association of it there is
 * established, never when it is only configured. A credential of the instance issued later follows every node it runs
 * on (it followed the node of the last association configured, which may be one it never ran on), and a node it never
 * ran on takes nothing of it (it took the credential, and with it the live association elsewhere).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const instance = configureAeInstance;
const revokeNode = (nodeId: string) => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator });
const issueToInstance = (credentialId: string) => cmd.issueCredential(credentialId, 'meter-2', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } });

/** meter-1..3 enrolled; RA's Cx on meter-2 with ae-cred (sa-2, established). `settle` runs the cascade, when there is one. */
const onMeter2 = async (engine: Pick<Engine, 'execute'>, settle: () => Promise<void>): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-3')]) {
    await engine.execute(x);
  }
  await enrolledApplication(engine, 'RA');
  await engine.execute(cmd.issueCredential('ae-cred', 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
  await engine.execute(cmd.provisionCredential('ae-cred'));
  await engine.execute(instance('sa-2', 'ae-cred', 'meter-2'));
  await engine.execute(cmd.establishAssociation('sa-2'));
  await settle();
};

/** Then sa-3 on meter-3, configured and revoked at once (never established), and ae-cred-2 issued to the instance. */
const neverRanOnMeter3 = async (engine: Pick<Engine, 'execute'>, settle: () => Promise<void>): Promise<void> => {
  await onMeter2(engine, settle);
  await engine.execute(instance('sa-3', 'ae-cred', 'meter-3'));
  await engine.execute(cmd.revokeAssociation('sa-3', 'cessationOfOperation'));
  await settle();
  await engine.execute(issueToInstance('ae-cred-2'));
  await engine.execute(cmd.provisionCredential('ae-cred-2'));
  await settle();
};

/**
 * Review 49: the typo. meter-1..3 enrolled; ae-cred issued to RA's Cx and provisioned before the instance ran anywhere;
 * sa-3 configured on meter-3 (a typo) and revoked, never established; then sa-2 on meter-2, established.
 */
const typoOnMeter3 = async (engine: Pick<Engine, 'execute'>, settle: () => Promise<void>): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-3')]) {
    await engine.execute(x);
  }
  await enrolledApplication(engine, 'RA');
  await engine.execute(cmd.issueCredential('ae-cred', 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
  await engine.execute(cmd.provisionCredential('ae-cred'));
  await settle();
  await engine.execute(instance('sa-3', 'ae-cred', 'meter-3'));
  await engine.execute(cmd.revokeAssociation('sa-3', 'cessationOfOperation'));
  await settle();
  await engine.execute(instance('sa-2', 'ae-cred', 'meter-2'));
  await engine.execute(cmd.establishAssociation('sa-2'));
  await settle();
};

const live = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await onMeter2(c.engine, () => c.settle());
  return c;
};

/** The cascade's tables after a fresh catch-up over the store in batches of `batchSize` (1: event by event). */
const cascadeTablesAfterCatchUp = async (c: Credence, batchSize: number): Promise<Record<string, unknown[]>> => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  await new ProjectionRunner({ db, store: c.store, projections: [cascadeProcessManager(c.engine)], batchSize }).catchUp();
  const tables = ['cascade_dependents', 'cascade_endings', 'cascade_identifiers', 'cascade_owned', 'cascade_instance_credentials', 'cascade_instance_nodes'];
  return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()]));
};

describe('an AE credential naming its App-ID follows the nodes its instance was established on (RS-01, review 48)', () => {
  it('one issued after an association elsewhere that was never established follows the node the instance runs on', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await neverRanOnMeter3(c.engine, () => c.settle());
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'credential', 'ae-cred-2')).toEqual(['ae-cred-2', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('one issued while the instance runs on two nodes follows both: revoking the first revokes it', async () => {
    const c = await live();
    await c.engine.execute(instance('sa-3', 'ae-cred', 'meter-3'));
    await c.engine.execute(cmd.establishAssociation('sa-3'));
    await c.settle();
    await c.engine.execute(issueToInstance('ae-cred-2'));
    await c.settle();
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred-2')).toEqual(['ae-cred-2', 'revoked', 'keyCompromise']);
    expect((await state(c.engine, 'association', 'sa-3'))[1]).toBe('revoked');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('one issued between an association\'s configuration elsewhere and its establishment follows both nodes', async () => {
    const c = await live();
    await c.engine.execute(instance('sa-3', 'ae-cred', 'meter-3'));
    await c.settle();
    await c.engine.execute(issueToInstance('ae-cred-2'));
    await c.settle();
    await c.engine.execute(cmd.establishAssociation('sa-3'));
    await c.settle();
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred-2')).toEqual(['ae-cred-2', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a node the instance was configured on and never ran on takes nothing: revoking it leaves the credential and sa-2 live', async () => {
    const c = await live();
    await c.engine.execute(instance('sa-3', 'ae-cred', 'meter-3'));
    await c.engine.execute(cmd.revokeAssociation('sa-3', 'cessationOfOperation'));
    await c.settle();
    await c.engine.execute(revokeNode('meter-3'));
    await c.settle();
    expect((await state(c.engine, 'credential', 'ae-cred'))[1]).not.toBe('revoked');
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'associated', undefined]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a cascade that first meets such a log (a rebuild) revokes what the revocation left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    await neverRanOnMeter3(engine, async () => {});
    await engine.execute(revokeNode('meter-2'));
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred-2')).toEqual(['ae-cred-2', 'revoked', 'keyCompromise']);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('a catch-up one event at a time and in one batch write the same read model and decide nothing again', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await neverRanOnMeter3(c.engine, () => c.settle());
    await c.engine.execute(instance('sa-4', 'ae-cred-2', 'meter-1'));
    await c.engine.execute(cmd.establishAssociation('sa-4'));
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    const before = await footprint(c.store);
    const single = await cascadeTablesAfterCatchUp(c, 1);
    expect(await cascadeTablesAfterCatchUp(c, 10_000)).toEqual(single);
    expect(await footprint(c.store)).toEqual(before);
    expect(single['cascade_instance_nodes']).toEqual([
      { instance: '["RA","Cx"]', node: 'node-meter-1' },
      { instance: '["RA","Cx"]', node: 'node-meter-2' },
    ]);
  });
});

describe('an AE credential issued before its instance ran anywhere waits for the first node it is established on (review 49)', () => {
  it('the typo: revoking meter-3, where sa-3 was configured and never established, leaves ae-cred and sa-2 live', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await typoOnMeter3(c.engine, () => c.settle());
    await c.engine.execute(revokeNode('meter-3'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'associated', undefined]);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'associated', undefined]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('the typo, then meter-2 revoked: ae-cred follows meter-2, where its instance ran, and is revoked with it', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await typoOnMeter3(c.engine, () => c.settle());
    await c.engine.execute(revokeNode('meter-3'));
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('one whose instance never runs anywhere follows no node, and is revoked with its App-ID', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await issuedBeforeItRan(c);
    await c.engine.execute(instance('sa-3', 'ae-cred', 'meter-3'));
    await c.engine.execute(revokeNode('meter-3'));
    await c.settle();
    expect((await state(c.engine, 'credential', 'ae-cred'))[1]).not.toBe('revoked');
    expect(c.readModels.prepare("SELECT parent FROM cascade_dependents WHERE child = 'credential-ae-cred' ORDER BY parent").all()).toEqual([{ parent: 'application-RA' }]);
    await c.engine.execute(command('revokeApplication', { appId: 'RA', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a cascade that first meets the typo\'s log (a rebuild) revokes nothing of the instance; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    await typoOnMeter3(engine, async () => {});
    await engine.execute(revokeNode('meter-3'));
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'associated', undefined]);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'associated', undefined]);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('a rebuild over what cascade version 11 decided (ae-cred and sa-2 revoked with meter-3) keeps it and writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    const engine = createEngine({ store, clock });
    await typoOnMeter3(engine, async () => {});
    await engine.execute(revokeNode('meter-3'));
    // What version 11 recorded: its reactions, under their derived ids, caused by the latest event of `cause`.
    const asCascade = async (type: string, target: string, data: Record<string, unknown>, cause: string): Promise<void> => {
      const ended = (await store.readStream(cause)).at(-1)!.id;
      await engine.executeAsSystem({
        type, data,
        metadata: { commandId: derivedCommandId(`cascade:${type}:${target}`, ended), actor: PROCESS_MANAGER_ACTOR, correlationId: ended, causationId: ended },
      });
    };
    await asCascade('revokeCredential', 'ae-cred', { credentialId: 'ae-cred', reason: 'keyCompromise' }, 'node-meter-3');
    await asCascade('revokeAssociation', 'sa-2', { associationId: 'sa-2', reason: 'keyCompromise' }, 'credential-ae-cred');
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('a catch-up of the typo one event at a time and in one batch write the same read model and decide nothing again', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await typoOnMeter3(c.engine, () => c.settle());
    await c.engine.execute(revokeNode('meter-3'));
    await c.settle();
    const before = await footprint(c.store);
    const single = await cascadeTablesAfterCatchUp(c, 1);
    expect(await cascadeTablesAfterCatchUp(c, 10_000)).toEqual(single);
    expect(await footprint(c.store)).toEqual(before);
    expect(single['cascade_dependents']!.filter((r) => (r as { child: string }).child === 'credential-ae-cred')).toEqual([
      { parent: 'application-RA', relation: 'credential-of-application', child: 'credential-ae-cred' },
      { parent: 'node-meter-2', relation: 'credential-of-node', child: 'credential-ae-cred' },
    ]);
  });
});

/** meter-1..3 enrolled, RA enrolled, ae-cred issued to RA's Cx and provisioned: the instance has run nowhere. */
const issuedBeforeItRan = async (c: Credence): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-3')]) {
    await c.engine.execute(x);
  }
  await enrolledApplication(c.engine, 'RA');
  await c.engine.execute(cmd.issueCredential('ae-cred', 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
  await c.engine.execute(cmd.provisionCredential('ae-cred'));
  await c.settle();
};
