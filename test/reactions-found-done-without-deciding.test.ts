// Issue 15 item 5: the cascade and pseudonym reactions of a catch-up over a settled log are found done without the
// engine deciding them (their event in the batch, the store's command index, or the target ended before the
// event), while a reaction whose effect does not hold is still decided by the engine and recorded.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DAY, FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, type Engine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import type { CommandOutcome, CommandSink } from '../domain/ports/index.ts';
import { cascadeProcessManager, endingOf } from '../projections/cascade/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner, type Projection } from '../projections/runtime/index.ts';
import { seedFleet } from '../bench/projections-fleet.ts';
import { at, cmd, footprint, operator, T0 } from './support/fleet.ts';
import { settledPseudonymFleet, testKey } from './support/pseudonym-fleet.ts';
import { countingSink } from './support/counting-sink.ts';

const memoryDb = () => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

const TABLES = ['cascade_dependents', 'cascade_endings', 'cascade_associations', 'cascade_dead_letters', 'pseudonym_directory', 'pseudonym_nodes'];
const dump = (db: Database.Database) => TABLES.map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all());

/** Nodes with credentials and associations (one an AE's), the pseudonyms rotated on association, a node revoked. */
const liveFleet = (): Promise<Credence> =>
  settledPseudonymFleet([
    cmd.revokeAssociation('sa-2', 'keyCompromise'),
    cmd.revokeCredential('cred-2', 'keyCompromise'),
    command('revokeNode', { nodeId: 'meter-3', reason: 'affiliationChanged' }, { actor: operator }),
  ]);

const rebuild = async (engine: Engine, db: Database.Database, index: boolean, batchSize: number) => {
  const { sink, outcomes } = countingSink(engine, index);
  const log: string[] = [];
  const projections: Projection[] = [
    cascadeProcessManager(sink, (entry) => log.push(entry.outcome)),
    pseudonymRotation({ engine: sink, deriver: new PseudonymDeriver(testKey), policy: { default: { onAssociation: true } } }),
  ];
  await new ProjectionRunner({ db, store: engine.store, projections, batchSize }).catchUp();
  return { outcomes, log };
};

describe('reactions of a catch-up over a settled log', () => {
  it('are found done without deciding a command, and rebuild the live read models', async () => {
    const c = await liveFleet();
    const before = await footprint(c.store);
    const db = memoryDb();
    const { outcomes, log } = await rebuild(c.engine, db, true, 500);
    expect(outcomes).toEqual([]);
    expect(log.length).toBeGreaterThan(10);
    expect(log.filter((o) => o !== 'duplicate' && o !== 'skipped')).toEqual([]);
    expect(await footprint(c.store)).toEqual(before);
    expect(dump(db)).toEqual(dump(c.readModels));
    await c.close();
  });

  it("one event per batch: only the store's command index and the endings before each event are known, and no command is appended", async () => {
    const c = await liveFleet();
    const before = await footprint(c.store);
    const db = memoryDb();
    const { outcomes, log } = await rebuild(c.engine, db, true, 1);
    // meter-3's revocation revoked sa-3 itself, after cred-3: cred-3's own cascade, at its revocation, cannot know
    // that yet and is refused by the association's machine, exactly as it was live.
    expect(outcomes).toEqual(['refused']);
    expect(log.length).toBeGreaterThan(10);
    expect(log.filter((o) => o !== 'duplicate' && o !== 'skipped')).toEqual([]);
    expect(await footprint(c.store)).toEqual(before);
    expect(dump(db)).toEqual(dump(c.readModels));
    await c.close();
  });

  it('are each answered by the engine as a duplicate when the sink has no command index (the same ids, actor and data)', async () => {
    const c = await liveFleet();
    const before = await footprint(c.store);
    const { outcomes } = await rebuild(c.engine, memoryDb(), false, 1);
    expect(outcomes.length).toBeGreaterThan(5);
    // All but cred-3's cascade onto sa-3, refused as it was live (see above).
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(1);
    expect(outcomes.every((o) => o === 'refused' || o.deduplicated)).toBe(true);
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });
});

describe('reactions whose effect does not hold', () => {
  it('are decided by the engine and recorded when the process manager catches up late, and found done on the next rebuild', async () => {
    const clock = new FakeClock(T0);
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock });
    // No process manager runs while these are stored: the bookkeeping and the node's cascade are still to come.
    for (const step of [
      cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw'), cmd.issueCredential('gw-c1', 'gw'), cmd.provisionCredential('gw-c1'),
      cmd.configureAssociation('gw-a1', 'gw-c1', 'gw'), cmd.establishAssociation('gw-a1'),
      command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }),
    ]) {
      clock.advance(MINUTE);
      await engine.execute(step);
    }
    const db = memoryDb();
    const late = await rebuild(engine, db, true, 500);
    // Initial pseudonym, the two bookkeeping commands (refused: the node is revoked), the credential and the
    // association revoked by the node's cascade; the credential's own cascade then finds the association ended.
    expect(late.outcomes.filter((o) => o !== 'refused' && !o.deduplicated).map((o) => (o as CommandOutcome).streamId).sort()).toEqual(
      expect.arrayContaining(['association-gw-a1', 'credential-gw-c1']),
    );
    expect((await engine.entity('credential', 'gw-c1')).snapshot.value).toBe('revoked');
    expect((await engine.entity('association', 'gw-a1')).snapshot.value).toBe('revoked');
    expect(endingOf(db, 'association-gw-a1')).toMatchObject({ byCascade: true, causeEventId: endingOf(db, 'node-gw')!.eventId });

    const before = await footprint(store);
    const again = await rebuild(engine, memoryDb(), true, 500);
    expect(again.outcomes.filter((o) => o !== 'refused')).toEqual([]);
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });

  it('an association stored after its credential expired is revoked for cessation of operation (CredentialExpired is an ending)', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw'), cmd.issueCredential('gw-c1', 'gw', at(10)), cmd.provisionCredential('gw-c1')]) {
      await c.engine.execute(step);
    }
    clock.advance(11 * DAY);
    await c.engine.execute(command('expireCredential', { credentialId: 'gw-c1' }, { actor: operator }));
    await c.settle();
    expect(endingOf(c.readModels, 'credential-gw-c1')).toMatchObject({ type: 'CredentialExpired', byCascade: false });
    // Stored without the engine's guards (an import, a store without conditions across streams).
    const configure = cmd.configureAssociation('gw-late', 'gw-c1', 'gw');
    const commandId = crypto.randomUUID();
    await c.store.appendToStream('association-gw-late', [{
      id: eventIdFor(commandId, 0), type: 'AssociationConfigured', data: configure.data as never,
      metadata: { schemaVersion: 1, actor: operator, commandId, commandType: configure.type, correlationId: commandId, causationId: commandId, occurredAt: clock.now().toISOString() },
    }], { expectedRevision: { kind: 'no_stream' } });
    await c.settle();
    const late = await c.engine.entity('association', 'gw-late');
    expect([late.snapshot.value, late.snapshot.context.revocationReason]).toEqual(['revoked', 'cessationOfOperation']);
    await c.close();
  });
});

describe('the projections benchmark fleet', () => {
  it('records every reaction as the live reaction does: the engine answers each as a duplicate, and nothing is appended', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(at(400)) });
    const deriver = new PseudonymDeriver(testKey);
    await seedFleet(store, deriver, 300);
    const before = await footprint(store);
    const { sink, outcomes } = countingSink(engine, false);
    const log: string[] = [];
    const projections: Projection[] = [cascadeProcessManager(sink, (entry) => log.push(`${entry.outcome} ${entry.command}`)), pseudonymRotation({ engine: sink, deriver })];
    await new ProjectionRunner({ db: memoryDb(), store, projections, batchSize: 1 }).catchUp();
    // Initial pseudonyms and the association bookkeeping: every one recorded under the id the reaction derives.
    expect(outcomes.length).toBeGreaterThan(60);
    expect(outcomes.every((o) => o !== 'refused' && o.deduplicated)).toBe(true);
    // The credential revoked after its association: its cascade finds the association ended already.
    expect(new Set(log)).toEqual(new Set([
      'duplicate recordCredentialAssociation', 'duplicate recordNodeAssociation', 'duplicate releaseCredentialAssociation',
      'duplicate releaseNodeAssociation', 'skipped revokeAssociation',
    ]));
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });
});

describe('a rotation round (tick) through its workers', () => {
  it('surfaces a failed command, stops taking nodes, and the next round rotates the rest once each', async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock });
    for (let i = 0; i < 12; i++) await c.engine.execute(cmd.registerNode(`meter-${i}`));
    const failing = { after: Number.POSITIVE_INFINITY };
    const sink: CommandSink = {
      ...c.engine,
      // An I/O failure of the store past the engine's own handling, on the fourth command of the round.
      executeAsSystem: (input) => (failing.after-- === 0 ? Promise.reject(new Error('disk I/O error (simulated)')) : c.engine.executeAsSystem(input)),
    };
    const rotation = pseudonymRotation({ engine: sink, deriver: new PseudonymDeriver(testKey), policy: { default: { everyMs: DAY } }, tickConcurrency: 2 });
    const db = memoryDb();
    const runner = new ProjectionRunner({ db, store: c.store, projections: [rotation] });
    await runner.catchUp();
    clock.advance(DAY);
    failing.after = 3;
    await expect(rotation.tick()).rejects.toThrow('disk I/O error');
    await runner.catchUp();
    const rotatedBy = () => (db.prepare("SELECT node_id FROM pseudonym_directory WHERE trigger = 'interval' ORDER BY node_id").all() as { node_id: string }[]).map((r) => r.node_id);
    // Workers stop taking nodes once one fails: the ones in flight (2 workers) finish, no more start.
    expect(rotatedBy().length).toBeGreaterThanOrEqual(3);
    expect(rotatedBy().length).toBeLessThanOrEqual(5);
    expect(await rotation.tick()).toBe(12 - rotatedBy().length);
    await runner.catchUp();
    expect(rotatedBy()).toEqual(Array.from({ length: 12 }, (_, i) => `meter-${i}`).sort());
    await c.close();
  });
});

describe('a cascade read model written before the cascade read its parents from its own tables', () => {
  it('is rebuilt from the log when opened: the same rows as the live one, and no command appended', async () => {
    const c = await liveFleet();
    const before = await footprint(c.store);
    const db = memoryDb();
    await rebuild(c.engine, db, true, 500);
    // What an earlier version left: no schema version for the cascade, no association rows, no expiry endings,
    // and its checkpoint at the head.
    db.exec("DELETE FROM projection_schemas WHERE name = 'cascade'; DELETE FROM cascade_associations; DELETE FROM cascade_endings");
    expect(db.prepare("SELECT count(*) AS n FROM projection_checkpoints WHERE name = 'cascade'").get()).toEqual({ n: 1n });
    const { outcomes } = await rebuild(c.engine, db, true, 500);
    expect(outcomes).toEqual([]);
    expect(dump(db)).toEqual(dump(c.readModels));
    expect(await footprint(c.store)).toEqual(before);
    // Opened again at the current version, it is left as it is.
    const rows = dump(db);
    await rebuild(c.engine, db, true, 500);
    expect(dump(db)).toEqual(rows);
    await c.close();
  });
});
