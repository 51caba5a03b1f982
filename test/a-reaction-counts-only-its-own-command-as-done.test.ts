// A process manager's reaction is done under its derived id only when the process manager itself recorded that
// command there. Found in review: the cascade took any command recorded under its revocation's id as its own, so a
// command stored under the id first (an operator's, before admission reserved derived ids; or anything else written
// there) made it skip a credential of a revoked node (RS-16, HLR-212, seed 003 11.2.2). The records below are
// planted through the store, past admission, as a log written before the fix (or by hand) holds them.
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import type { Actor } from '../domain/metadata.ts';
import { decodeStored } from '../domain/stored.ts';
import { deadLetters, PROCESS_MANAGER_ACTOR, type CascadeLog } from '../projections/cascade/index.ts';
import { PseudonymDeriver, pseudonymRotation } from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { cmd, footprint, issueCredentialData, operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { rebuildCascade } from './support/cascade-rebuild.ts';

type Entry = Parameters<CascadeLog>[0];

/** `event` starting `stream` under `commandId` by `actor`, straight through the store (no admission, no machine). */
const plant = async (c: Credence, stream: string, event: { type: string; data: object }, commandType: string, commandId: string, actor: Actor) => {
  await c.store.appendToStream(stream, [{
    id: eventIdFor(commandId, 0), type: event.type, data: event.data as never,
    metadata: { schemaVersion: 1, actor, commandId, commandType, correlationId: commandId, causationId: commandId, occurredAt: c.engine.clock.now().toISOString() },
  }], { expectedRevision: { kind: 'no_stream' }, commandId });
};

/**
 * Node gw with two provisioned credentials, gw-c1 issued under the id the cascade will derive for revoking it when the
 * node is revoked under `revokeId`, by `actor` for `commandType`; then the node revoked under `revokeId`.
 */
const revokedWithOneIdTaken = async (by: { actor: Actor; commandType: string }) => {
  const log: Entry[] = [];
  const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), cascadeLog: (entry) => log.push(entry) });
  for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw')]) await c.engine.execute(step);
  const revokeId = randomUUID();
  const cascadeId = derivedCommandId('cascade:revokeCredential:gw-c1', eventIdFor(revokeId, 0));
  const issued = { type: 'CredentialIssued', data: issueCredentialData('gw-c1', 'gw', { notBefore: T0, notAfter: '2026-04-01T00:00:00.000Z' }) };
  await plant(c, 'credential-gw-c1', issued, by.commandType, cascadeId, by.actor);
  for (const step of [cmd.provisionCredential('gw-c1'), cmd.issueCredential('gw-c2', 'gw'), cmd.provisionCredential('gw-c2')]) await c.engine.execute(step);
  await c.settle();
  await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator, commandId: revokeId }));
  await c.settle();
  return { c, log, cascadeId };
};

const state = async (c: Credence, id: string) => (await c.engine.entity('credential', id)).snapshot.value;

describe('the cascade, under a revocation id another command holds', () => {
  for (const [who, by] of [
    ['an operator recorded the same command type under it', { actor: operator, commandType: 'revokeCredential' }],
    ['its own system actor recorded another command type under it', { actor: PROCESS_MANAGER_ACTOR, commandType: 'issueCredential' }],
  ] as const) {
    it(`dead-letters the reaction, never counts it done, when ${who}`, async () => {
      const { c, log, cascadeId } = await revokedWithOneIdTaken(by);
      // gw-c2 is revoked as usual; gw-c1's revocation cannot be recorded under its id and waits for an operator.
      expect(await state(c, 'gw-c2')).toBe('revoked');
      expect(await state(c, 'gw-c1')).toBe('enrolled');
      const letters = deadLetters(c.readModels).filter((d) => d.target === 'gw-c1');
      expect(letters).toEqual([expect.objectContaining({ eventType: 'NodeRevoked', command: 'revokeCredential', target: 'gw-c1' })]);
      expect(letters[0]!.reason).toContain(`its command id ${cascadeId} is taken by a command that is not this reaction`);
      expect(log.filter((e) => e.target === 'gw-c1').map((e) => e.outcome)).toEqual(['dead-letter']);
      await c.close();
    });

    it(`rebuilt in one batch that holds the planted record, leaves the same dead letter and writes nothing, when ${who}`, async () => {
      const { c } = await revokedWithOneIdTaken(by);
      const before = await footprint(c.store);
      // The live instance's engine, with the store's command index: `recorded` is asked whose command the id holds.
      const { db, log } = await rebuildCascade(c, 500);
      expect(deadLetters(db)).toEqual(deadLetters(c.readModels));
      expect(log.filter((e) => e.target === 'gw-c1').map((e) => e.outcome)).toEqual(['dead-letter']);
      expect(await footprint(c.store)).toEqual(before);
      db.close();
      await c.close();
    });
  }

  it('counts its own earlier revocation as done on a rebuild, through the same checks', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw'), cmd.issueCredential('gw-c1', 'gw'), cmd.provisionCredential('gw-c1')]) {
      await c.engine.execute(step);
    }
    await c.engine.execute(command('revokeNode', { nodeId: 'gw', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();
    const before = await footprint(c.store);
    for (const batchSize of [1, 500]) {
      const { db, log } = await rebuildCascade(c, batchSize);
      expect(log.filter((e) => e.target === 'gw-c1')).toEqual([{ outcome: 'duplicate', command: 'revokeCredential', target: 'gw-c1' }]);
      expect(deadLetters(db)).toEqual([]);
      db.close();
    }
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });
});

describe("the engine's command index, asked for one sender", () => {
  it('answers for the actor (id and role) and command type that recorded the id, and for anyone when no sender is named', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await c.engine.execute(cmd.createSubscription());
    const commandId = derivedCommandId('cascade:test', randomUUID());
    await c.engine.executeAsSystem({ ...cmd.registerNode('gw'), metadata: { actor: PROCESS_MANAGER_ACTOR, commandId } });
    const recorded = (by?: { actor: Actor; commandType: string }) => c.engine.recorded('node', 'gw', commandId, by);
    expect(await recorded()).toBe(true);
    expect(await recorded({ actor: PROCESS_MANAGER_ACTOR, commandType: 'registerNode' })).toBe(true);
    expect(await recorded({ actor: PROCESS_MANAGER_ACTOR, commandType: 'revokeNode' })).toBe(false);
    expect(await recorded({ actor: { ...PROCESS_MANAGER_ACTOR, role: 'operator' }, commandType: 'registerNode' })).toBe(false);
    expect(await recorded({ actor: { id: 'system:expiry-scheduler', role: 'system' }, commandType: 'registerNode' })).toBe(false);
    expect(await c.engine.recorded('node', 'other', commandId, { actor: PROCESS_MANAGER_ACTOR, commandType: 'registerNode' })).toBe(false);
    await c.close();
  });
});

describe('pseudonym rotation, under a reaction id another command holds', () => {
  it('counts its own rotation as done when redelivered after the directory moved on (the id is on an earlier epoch)', async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key: testKey, policy: { default: { onAssociation: true } } } });
    for (const step of [
      cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'),
      cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'),
    ]) {
      await c.engine.execute(step);
      await c.settle();
    }
    const [configured] = await c.store.readStream('association-sa-1');
    const decoded = decodeStored(configured!);
    if (!decoded.ok) throw new Error(decoded.reason);
    const before = await footprint(c.store);
    // The directory is at the association's epoch (1) now: the reaction aims at epoch 2, and finds its id at epoch 1.
    await c.pseudonyms!.react!(decoded.value);
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });


  it("surfaces the node's first rotation, as a broken history is, instead of counting an operator's rotation as it", async () => {
    const clock = new FakeClock(T0);
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock });
    const registerId = randomUUID();
    await engine.execute({ ...cmd.registerNode('meter-1'), metadata: { actor: operator, commandId: registerId } });
    // The id the rotation derives for the node's first pseudonym, taken by an operator's rotation of that pseudonym.
    const initialId = derivedCommandId('pseudonym:initial:meter-1', eventIdFor(registerId, 0));
    const deriver = new PseudonymDeriver(testKey);
    const pseudonym = await deriver.node('meter-1', 0);
    await store.appendToStream(`pseudonym-${pseudonym}`, [{
      id: eventIdFor(initialId, 0), type: 'PseudonymRotated', data: { pseudonym, nodeId: 'meter-1', epoch: 0, trigger: 'demand' },
      metadata: { schemaVersion: 1, actor: operator, commandId: initialId, commandType: 'rotatePseudonym', correlationId: initialId, causationId: initialId, occurredAt: T0 },
    }], { expectedRevision: { kind: 'no_stream' }, commandId: initialId });
    const before = await footprint(store);
    for (const batchSize of [1, 500]) {
      const db = new Database(':memory:');
      db.defaultSafeIntegers(true);
      const runner = new ProjectionRunner({ db, store, projections: [pseudonymRotation({ engine, deriver })], batchSize });
      await expect(runner.catchUp()).rejects.toThrow(/already used by another actor/);
      db.close();
    }
    expect(await footprint(store)).toEqual(before);
    await store.close();
  });
});
