import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { dependentsOf } from '../projections/cascade/dependents.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';
import { configureAeInstance, enrolledApplication, entityState as state } from './support/credential-holders.ts';

/*
 * RS-01: a credential must never outlive the node its holder runs on. App-ID RA's AE Cx runs on meter-1 with its AE
 * credential ae-cred (owner ae Cx, appId RA), then on meter-2: the instance moved (a new association of RA and Cx on
 * another node). The cascade linked ae-cred to meter-1 only, at the first association naming the instance, so
 * revoking meter-2, where the instance runs now, revoked the association there and left ae-cred live. It follows
 * every node the instance runs on now; the node it ran on before keeps it (its key was held there, seed 004).
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const instance = configureAeInstance;
const revokeNode = (nodeId: string) => command('revokeNode', { nodeId, reason: 'keyCompromise' }, { actor: operator });

/**
 * meter-1, meter-2 and meter-3 enrolled; RA's Cx on meter-1 with ae-cred (sa-1), then ended there and on meter-2
 * (sa-2); RB's use of AE-ID Cx on meter-3 (sa-rb). `settle` runs the cascade between the steps, when there is one.
 */
const moved = async (engine: Pick<Engine, 'execute'>, settle: () => Promise<void>): Promise<void> => {
  for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.registerNode('meter-2'), cmd.enrolNode('meter-2'), cmd.registerNode('meter-3'), cmd.enrolNode('meter-3')]) {
    await engine.execute(x);
  }
  await enrolledApplication(engine, 'RA');
  await enrolledApplication(engine, 'RB');
  await engine.execute(cmd.issueCredential('ae-cred', 'meter-1', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
  await engine.execute(cmd.provisionCredential('ae-cred'));
  await engine.execute(instance('sa-1', 'ae-cred', 'meter-1'));
  await engine.execute(cmd.establishAssociation('sa-1'));
  await settle();
  await engine.execute(cmd.revokeAssociation('sa-1', 'cessationOfOperation'));
  await engine.execute(instance('sa-2', 'ae-cred', 'meter-2'));
  await engine.execute(cmd.establishAssociation('sa-2'));
  await engine.execute(instance('sa-rb', 'RB-cred', 'meter-3', 'RB'));
  await engine.execute(cmd.establishAssociation('sa-rb'));
  await settle();
};

const fleet = async (): Promise<Credence> => {
  const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
  await moved(c.engine, () => c.settle());
  return c;
};

describe('an AE credential naming its App-ID follows the node its App-ID\'s instance runs on now (RS-01)', () => {
  it('revoking the node the instance moved to revokes it with the association there', async () => {
    const c = await fleet();
    await c.engine.execute(revokeNode('meter-2'));
    await c.settle();
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('revoking the node it ran on before still revokes it (its key was held there), and the instance on meter-2 with it', async () => {
    const c = await fleet();
    await c.engine.execute(revokeNode('meter-1'));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'revoked', 'keyCompromise']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('another App-ID\'s use of the AE-ID on another node takes nothing: revoking meter-3 leaves it alone', async () => {
    const c = await fleet();
    await c.engine.execute(revokeNode('meter-3'));
    await c.settle();
    expect((await state(c.engine, 'association', 'sa-rb'))[1]).toBe('revoked');
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'associated', undefined]);
    expect(await state(c.engine, 'association', 'sa-2')).toEqual(['sa-2', 'associated', undefined]);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });

  it('a cascade that first meets the log (a rebuild) revokes what a revocation of the new node left live; a rebuild after writes nothing', async () => {
    const store = openSqliteStore({ memory: true });
    const clock = new FakeClock(T0);
    // Recorded with no cascade running, the new node revoked by hand: the credential left live, as under the old rules.
    const engine = createEngine({ store, clock });
    await moved(engine, async () => {});
    await engine.execute(revokeNode('meter-2'));
    expect((await state(engine, 'credential', 'ae-cred'))[1]).not.toBe('revoked');
    const c = (credence = openCredence({ location: { memory: true }, clock, store }));
    await c.settle();
    expect(await state(c.engine, 'credential', 'ae-cred')).toEqual(['ae-cred', 'revoked', 'keyCompromise']);
    const before = await footprint(store);
    await c.runner.rebuild('cascade');
    await c.settle();
    expect(await footprint(store)).toEqual(before);
    expect((await replayAll(store)).findings).toEqual([]);
  });

  it('an ended credential of the instance is forgotten: the node the instance runs on next takes only the live ones', async () => {
    const c = await fleet();
    await c.engine.execute(cmd.issueCredential('ae-cred-2', 'meter-2', at(300), { owner: { kind: 'ae', id: 'Cx', appId: 'RA' } }));
    await c.engine.execute(cmd.provisionCredential('ae-cred-2'));
    await c.engine.execute(command('revokeCredential', { credentialId: 'ae-cred', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    await c.engine.execute(instance('sa-4', 'ae-cred-2', 'meter-3'));
    // The instance runs on meter-3 once the association there is established (review 48), not when configured.
    await c.engine.execute(cmd.establishAssociation('sa-4'));
    await c.settle();
    const ofMeter3 = dependentsOf(c.readModels, 'node-meter-3', 'credential-of-node');
    expect(ofMeter3).toContain('credential-ae-cred-2');
    expect(ofMeter3).not.toContain('credential-ae-cred');
    const kept = c.readModels.prepare('SELECT credential FROM cascade_instance_credentials ORDER BY credential').all();
    expect(kept).toEqual([{ credential: 'credential-ae-cred-2' }]);
  });
});
