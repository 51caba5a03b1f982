/**
 * Review 233 (SER-011, SER-025): under `onAssociation`, a process stopped after a catch-up batch's reactions stored
 * their rotations but before the batch's read models were committed (killed, a failed COMMIT) could never resume. The
 * batch ran again over the directory as it was before it: an association reaction started at an epoch below the one
 * it had recorded, the engine refused its derived id as reused (it sits on a later epoch's stream), and the reaction
 * looked for its own rotation only at earlier epochs: it threw at every start, and the directory (which needs the
 * rotations after that event) never moved again. The put-back of readmodels.db below is that crash, made exact: the
 * events stay, the read models are those of before the batch.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock, MINUTE } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { nodePseudonym, PseudonymDeriver, type RotationPolicyInput } from '../projections/pseudonyms/index.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-rotation-lost-batch-');

const ON_ASSOCIATION: RotationPolicyInput = { default: { onAssociation: true } };

const open = (dir: string, clock: FakeClock): Credence =>
  openCredence({ location: { dir }, clock, pseudonyms: { key: testKey, policy: ON_ASSOCIATION } });

/** Each rotation the log holds, in log order: its trigger and epoch. */
const rotations = async (c: Credence): Promise<string[]> => {
  const out: string[] = [];
  for await (const r of c.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) out.push(`${String(r.data['trigger'])}@${String(r.data['epoch'])}`);
  return out;
};

/** Runs `work` on the folder opened, then closes it. */
const withOpen = async <T>(dir: string, clock: FakeClock, work: (c: Credence) => Promise<T>): Promise<T> => {
  clock.advance(MINUTE);
  const c = open(dir, clock);
  try {
    return await work(c);
  } finally {
    await c.close();
  }
};

/** The commands stored with no catch-up between them: one batch of the next settle. */
const backlog = (c: Credence, steps: readonly unknown[]) => steps.reduce<Promise<unknown>>((done, step) => done.then(() => c.engine.execute(step)), Promise.resolve());

const readModelFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('readmodels.db'));

/**
 * The crash: readmodels.db as it was before the backlog's batch, put back after the batch's rotations were stored and
 * its read models committed; the log kept.
 */
const settleThenLoseTheReadModels = async (dir: string, clock: FakeClock): Promise<string[]> => {
  const saved = folder();
  for (const f of readModelFiles(dir)) copyFileSync(join(dir, f), join(saved, f));
  const stored = await withOpen(dir, clock, async (c) => {
    await c.settle();
    return rotations(c);
  });
  for (const f of readModelFiles(dir)) rmSync(join(dir, f));
  for (const f of readModelFiles(saved)) copyFileSync(join(saved, f), join(dir, f));
  return stored;
};

describe('pseudonym rotation on association, resumed after a batch whose read models were lost', () => {
  it('a node registered and associated in one batch: the next start finds both rotations done and the directory moves on', async () => {
    const dir = folder();
    const clock = new FakeClock(T0);
    await withOpen(dir, clock, async (c) => {
      await c.engine.execute(cmd.createSubscription());
      await c.settle();
    });
    await withOpen(dir, clock, (c) =>
      backlog(c, [cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'), cmd.provisionCredential('cred-1'), cmd.configureAssociation('sa-1', 'cred-1', 'meter-1')]));
    const stored = await settleThenLoseTheReadModels(dir, clock);
    expect(stored).toEqual(['initial@0', 'association@1']);

    await withOpen(dir, clock, async (c) => {
      await c.settle();
      expect(await rotations(c)).toEqual(stored);
      expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(1);
      // And the reactions after it are decided as ever.
      await c.engine.execute(cmd.configureAssociation('sa-2', 'cred-1', 'meter-1'));
      await c.settle();
      expect(await rotations(c)).toEqual([...stored, 'association@2']);
      expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(2);
    });
  });

  it('a node the directory knew, with two associations in one batch: the next start finds both done', async () => {
    const dir = folder();
    const clock = new FakeClock(T0);
    await withOpen(dir, clock, async (c) => {
      for (const step of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'), cmd.provisionCredential('cred-1')]) {
        await c.engine.execute(step);
        await c.settle();
      }
      expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(0);
    });
    await withOpen(dir, clock, (c) => backlog(c, [cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'), cmd.configureAssociation('sa-2', 'cred-1', 'meter-1')]));
    const stored = await settleThenLoseTheReadModels(dir, clock);
    expect(stored).toEqual(['initial@0', 'association@1', 'association@2']);

    await withOpen(dir, clock, async (c) => {
      await c.settle();
      expect(await rotations(c)).toEqual(stored);
      expect(nodePseudonym(c.readModels, 'meter-1')?.epoch).toBe(2);
    });
  });

  it("still surfaces another actor's command under the reaction's id on a later epoch of the node, never counts it done", async () => {
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey, policy: ON_ASSOCIATION } });
    try {
      for (const step of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1'), cmd.provisionCredential('cred-1')]) {
        await c.engine.execute(step);
        await c.settle();
      }
      const configureId = randomUUID();
      await c.engine.execute({ ...cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'), metadata: { actor: operator, commandId: configureId } });
      // The id the reaction derives, taken by an operator's rotation of the node's epoch 2 (the reaction starts at 1).
      const reactionId = derivedCommandId('pseudonym:association:meter-1', eventIdFor(configureId, 0));
      const pseudonym = await new PseudonymDeriver(testKey).node('meter-1', 2);
      await c.store.appendToStream(`pseudonym-${pseudonym}`, [{
        id: eventIdFor(reactionId, 0), type: 'PseudonymRotated', data: { pseudonym, nodeId: 'meter-1', epoch: 2, trigger: 'demand' },
        metadata: { schemaVersion: 1, actor: operator, commandId: reactionId, commandType: 'rotatePseudonym', correlationId: reactionId, causationId: reactionId, occurredAt: T0 },
      }], { expectedRevision: { kind: 'no_stream' }, commandId: reactionId });
      const before = await footprint(c.store);
      await expect(c.settle()).rejects.toThrow(/already used by another actor/);
      expect(await footprint(c.store)).toEqual(before);
    } finally {
      await c.close();
    }
  });
});
