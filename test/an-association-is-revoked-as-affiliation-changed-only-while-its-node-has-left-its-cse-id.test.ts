import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore } from '../domain/ports/event-store.ts';
import type { CommandSink } from '../domain/ports/index.ts';
import { cascadeProcessManager, deadLetters, type CascadeLog } from '../projections/cascade/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, footprint, operator, rejection, T0 } from './support/fleet.ts';

/*
 * RS-01 (seed 003 11.3.1: a Registree CSE is configured under its CSE-ID), found in adversarial review 31 (#4): meter-1
 * enrolled as /cse-meter-1 with sa-1 established under it moved to another CSE-ID; the cascade read the node (moved),
 * the node came back to /cse-meter-1 right after that read, and the cascade's revocation of sa-1 as affiliationChanged
 * still committed: an association revoked under a CSE-ID its node held again, which the same events in another order
 * keep. The association's machine now reads the node at the commit (guard registreeMovedAway): the revocation is
 * refused, the cascade skips it (no dead letter), and replay judges a forged one.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const OLD_CSE = '/cse-meter-1';
const NEW_CSE = '/cse-meter-1-renumbered';
const renumber = (cseId: string) => command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId }, { actor: operator });

/** meter-1 enrolled as /cse-meter-1 with cred-1, and sa-1 (CSE Registree /cse-meter-1) established on it. */
const established = async (engine: Pick<Engine, 'execute'>): Promise<void> => {
  for (const x of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1', 'meter-1', at(300)), cmd.provisionCredential(),
    cmd.configureAssociation(), cmd.establishAssociation(),
  ]) await engine.execute(x);
};

const stateOf = async (engine: Pick<Engine, 'entity'>, id: string) => {
  const { snapshot } = await engine.entity('association', id);
  return [String(snapshot.value), snapshot.context.revocationReason];
};

const logOf = async (store: EventStore): Promise<string[]> => {
  const out: string[] = [];
  for await (const e of store.readAll()) {
    if (e.type === 'NodeEnrolled') out.push(`NodeEnrolled ${e.data['cseId'] as string}`);
    if (e.type === 'AssociationRevoked') out.push(`${e.streamId} AssociationRevoked ${e.data['reason'] as string}`);
  }
  return out;
};

describe("an association is revoked as affiliationChanged only while its node has left its Registree's CSE-ID (RS-01, review 31)", () => {
  it('keeps sa-1 when its node comes back to the CSE-ID between the cascade\'s read of it and its revocation (skipped, no dead letter), and revokes it once the node moves and stays moved', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await established(engine);
    // The engine as the cascade sees it, but meter-1 comes back to /cse-meter-1 right after the cascade's read of it
    // returns (the node's move to the renumbered CSE-ID): between the cascade's decision and its commit.
    let armed = false;
    const sink: CommandSink = {
      execute: (input, options) => engine.execute(input, options),
      executeAsSystem: (input) => engine.executeAsSystem(input),
      clock: engine.clock,
      recorded: (kind, id, commandId, by) => engine.recorded(kind, id, commandId, by),
      view: async (kind, id) => {
        const view = await engine.view(kind, id);
        if (armed && kind === 'node' && id === 'meter-1') {
          armed = false;
          await engine.execute(renumber(OLD_CSE));
        }
        return view;
      },
    };
    const log: Parameters<CascadeLog>[0][] = [];
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const runner = new ProjectionRunner({ db, store, projections: [cascadeProcessManager(sink, (entry) => log.push(entry))] });
    await runner.catchUp();
    // Given the cascade caught up, meter-1 moves to another CSE-ID.
    await engine.execute(renumber(NEW_CSE));
    armed = true;
    await runner.catchUp();
    await runner.catchUp();
    expect(armed).toBe(false);
    // Then the cascade's revocation is refused at its commit and skipped: sa-1 stays, nothing is revoked.
    expect(log.filter((e) => e.command === 'revokeAssociation').map((e) => [e.outcome, e.target])).toEqual([['skipped', 'sa-1']]);
    expect(await stateOf(engine, 'sa-1')).toEqual(['associated', undefined]);
    expect(await logOf(store)).toEqual([`NodeEnrolled ${OLD_CSE}`, `NodeEnrolled ${NEW_CSE}`, `NodeEnrolled ${OLD_CSE}`]);
    expect(deadLetters(db)).toEqual([]);
    expect((await replayAll(store)).findings).toEqual([]);
    // The same events with the cascade after both (the control): the same outcome.
    const fresh = new Database(':memory:');
    fresh.defaultSafeIntegers(true);
    await new ProjectionRunner({ db: fresh, store, projections: [cascadeProcessManager(engine)] }).catchUp();
    expect(await stateOf(engine, 'sa-1')).toEqual(['associated', undefined]);
    expect(deadLetters(fresh)).toEqual([]);
    fresh.close();

    // The ordinary case: meter-1 moves again and stays moved, and the cascade revokes sa-1 as affiliationChanged.
    await engine.execute(renumber(NEW_CSE));
    await runner.catchUp();
    expect(await stateOf(engine, 'sa-1')).toEqual(['revoked', 'affiliationChanged']);
    expect(log.filter((e) => e.command === 'revokeAssociation').map((e) => [e.outcome, e.target])).toEqual([['skipped', 'sa-1'], ['issued', 'sa-1']]);
    expect(deadLetters(db)).toEqual([]);
    expect((await replayAll(store)).findings).toEqual([]);
    db.close();
  });

  it('is flagged by replay when appended past the engine while the node held the CSE-ID again', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await established(c.engine);
    await c.engine.execute(renumber(NEW_CSE));
    await c.engine.execute(renumber(OLD_CSE));
    await c.settle();
    expect(await stateOf(c.engine, 'sa-1')).toEqual(['associated', undefined]);
    await forge(c.store, 'association-sa-1', 'AssociationRevoked', { associationId: 'sa-1', reason: 'affiliationChanged' }, T0);
    const { findings } = await replayAll(c.store);
    expect(findings).toEqual([expect.objectContaining({ streamId: 'association-sa-1', reason: expect.stringContaining('registreeMovedAway') })]);
  });

  it("refuses an operator's affiliationChanged, writing nothing, while the node holds the CSE-ID; a credential or node revoked as affiliationChanged still passes it on", async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    await established(c.engine);
    for (const x of [cmd.issueCredential('cred-2', 'meter-1', at(300)), cmd.provisionCredential('cred-2'), cmd.configureAssociation('sa-2', 'cred-2'), cmd.establishAssociation('sa-2')]) {
      await c.engine.execute(x);
    }
    await c.settle();
    const before = await footprint(c.store);
    expect((await rejection(c.engine.execute(cmd.revokeAssociation('sa-1', 'affiliationChanged')))).problem).toMatchObject({
      code: 'illegal_transition', attempted: 'AssociationRevoked', rule: 'registreeMovedAway',
    });
    expect(await footprint(c.store)).toEqual(before);
    // The reason inherited from the association's credential (the cascade carries a parent's reason on) is legal.
    await c.engine.execute(cmd.revokeCredential('cred-1', 'affiliationChanged'));
    await c.settle();
    expect(await stateOf(c.engine, 'sa-1')).toEqual(['revoked', 'affiliationChanged']);
    // And from the node, which keeps its CSE-ID in its revoked state.
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'affiliationChanged' }, { actor: operator }));
    await c.settle();
    expect(await stateOf(c.engine, 'sa-2')).toEqual(['revoked', 'affiliationChanged']);
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});
