// An event is recorded only by the command whose catalog event it is (domain/commands/catalog.ts, decide.ts). Found in
// review 234: one forged CredentialAssociated (a ghost association) planted on cred-2 under the id the cascade derives
// for revoking cred-2 after its node's revocation, its metadata naming the cascade's actor and `revokeCredential`:
// the cascade took its revocation as done (the command index and its batch both answer by actor and command type),
// cred-2 stayed live (off the CRL) under a node revoked keyCompromise, no dead letter, and replay had no findings.
// The record is planted through the store, past admission and the machines, as a tampering writer would.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { replayInWorkers } from '../adapters/replay-workers/pool.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { deadLetters, PROCESS_MANAGER_ACTOR, type CascadeLog } from '../projections/cascade/index.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { cmd, establishOne, footprint, operator, T0 } from './support/fleet.ts';
import { rebuildCascade } from './support/cascade-rebuild.ts';

type Entry = Parameters<CascadeLog>[0];

const GHOST = 'CredentialAssociated recorded under command type revokeCredential, which records CredentialRevoked: an event is recorded only by its own command';

/**
 * meter-1 with sa-1 established on cred-1 and cred-2 provisioned, settled; meter-1 revoked keyCompromise; then, before
 * the cascade ran, a ghost CredentialAssociated on cred-2 under the cascade's id for revoking cred-2, as its own.
 */
const ghostUnderTheCascadesId = async () => {
  const log: Entry[] = [];
  const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), cascadeLog: (entry) => log.push(entry) });
  for (const step of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1'), cmd.provisionCredential('cred-1'),
    cmd.configureAssociation(), cmd.establishAssociation(), cmd.issueCredential('cred-2'), cmd.provisionCredential('cred-2'),
  ]) await c.engine.execute(step);
  await c.settle();
  const revokeId = randomUUID();
  await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator, commandId: revokeId }));
  const cascadeId = derivedCommandId('cascade:revokeCredential:cred-2', eventIdFor(revokeId, 0));
  const stream = await c.store.readStream('credential-cred-2');
  const planted = await c.store.appendToStream('credential-cred-2', [{
    id: eventIdFor(cascadeId, 0), type: 'CredentialAssociated', data: { credentialId: 'cred-2', associationId: 'sa-ghost' },
    metadata: {
      schemaVersion: 1, actor: PROCESS_MANAGER_ACTOR, commandId: cascadeId, commandType: 'revokeCredential',
      correlationId: revokeId, causationId: eventIdFor(revokeId, 0), occurredAt: c.engine.clock.now().toISOString(),
    },
  }], { expectedRevision: ExpectedRevision.after(stream.at(-1)!.revision), commandId: cascadeId });
  await c.settle();
  return { c, log, cascadeId, position: planted.position };
};

const state = async (c: Credence, id: string) => (await c.engine.entity('credential', id)).snapshot.value;

describe('an event its command type does not record', () => {
  it('is a finding of replay, in the fleet and of the one entity, and is not applied', async () => {
    const { c, position } = await ghostUnderTheCascadesId();
    const verdict = await replayAll(c.store);
    expect(verdict.findings.map((f) => [f.streamId, f.position, f.reason])).toEqual([['credential-cred-2', position, GHOST]]);
    // Not applied: cred-2 is no more associated than it was (the planted record is at fault, not the machine's rules).
    expect(verdict.kinds.credential.states).not.toHaveProperty('associated');
    // Worker threads keep of each event only what the passes read (judged-event.ts): its command type is among it.
    expect((await replayInWorkers(c.store, { workers: 2 })).replay).toEqual(verdict);
    const entity = await replayEntity(c.store, 'credential-cred-2');
    expect(entity.verdict).toEqual({ ok: false, findings: [expect.objectContaining({ position, reason: GHOST })] });
    await c.close();
  });

  it('does not make the cascade take its revocation as done: it waits for an operator as a dead letter, never skipped', async () => {
    const { c, log, cascadeId } = await ghostUnderTheCascadesId();
    expect(await state(c, 'cred-1')).toBe('revoked');
    // Its derived id is held on cred-2's stream by a record that is not its revocation: it can never be recorded under
    // it, so it is left for an operator, as any reaction whose id another command holds.
    expect(await state(c, 'cred-2')).not.toBe('revoked');
    const letters = deadLetters(c.readModels).filter((d) => d.target === 'cred-2');
    expect(letters).toEqual([expect.objectContaining({ eventType: 'NodeRevoked', command: 'revokeCredential', target: 'cred-2' })]);
    expect(letters[0]!.reason).toContain(`its command id ${cascadeId} is taken by a command that is not this reaction`);
    expect(log.filter((e) => e.target === 'cred-2').map((e) => e.outcome)).toEqual(['dead-letter']);
    await c.close();
  });

  it('rebuilt one event at a time or in one batch that holds it, the cascade leaves the same dead letter and writes nothing', async () => {
    const { c } = await ghostUnderTheCascadesId();
    const before = await footprint(c.store);
    for (const batchSize of [1, 500]) {
      const { db, log } = await rebuildCascade(c, batchSize);
      expect(deadLetters(db)).toEqual(deadLetters(c.readModels));
      expect(log.filter((e) => e.target === 'cred-2').map((e) => e.outcome)).toEqual(['dead-letter']);
      db.close();
    }
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });
});

describe("the engine's command index, asked for one sender", () => {
  it('counts a record under the id as the sender\'s command only when it is the event its command type records', async () => {
    const { c, cascadeId } = await ghostUnderTheCascadesId();
    const by = { actor: PROCESS_MANAGER_ACTOR, commandType: 'revokeCredential' };
    expect(await c.engine.recorded('credential', 'cred-2', cascadeId, by)).toBe(false);
    // The record is there all the same: asked for no sender, the id is held.
    expect(await c.engine.recorded('credential', 'cred-2', cascadeId)).toBe(true);
    await c.close();
  });

  it("refuses a repeat whose id holds another event under the command's type and data, never answers it as done", async () => {
    const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await establishOne(c.engine);
    await c.settle();
    // A release has the data of its association's record: planted under the record's type, it reads as that record.
    const commandId = derivedCommandId('cascade:recordNodeAssociation:meter-1', randomUUID());
    const data = { nodeId: 'meter-1', associationId: 'sa-1' };
    const stream = await c.store.readStream('node-meter-1');
    await c.store.appendToStream('node-meter-1', [{
      id: eventIdFor(commandId, 0), type: 'NodeAssociationReleased', data,
      metadata: { schemaVersion: 1, actor: PROCESS_MANAGER_ACTOR, commandId, commandType: 'recordNodeAssociation', correlationId: commandId, causationId: commandId, occurredAt: T0 },
    }], { expectedRevision: ExpectedRevision.after(stream.at(-1)!.revision), commandId });
    const before = await footprint(c.store);
    await expect(c.engine.executeAsSystem({ type: 'recordNodeAssociation', data, metadata: { actor: PROCESS_MANAGER_ACTOR, commandId } }))
      .rejects.toThrow(`${commandId} was already used for a different command`);
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });
});
