import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { CheckpointFile, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { dataDirs } from './replay.fixtures.ts';
import { at, cmd, rotateOne, T0 } from './support/fleet.ts';

/*
 * Review 119: the replay checkpoint kept each entity's machine snapshot but not which machines made it. dde301e added
 * provisionedAt and endedAt to the credential's context, and heldAt answers from the state alone without them, so an
 * incremental run going on from a checkpoint an older build wrote flagged a handover that a full run judges legal.
 * The checkpoint now names its machines (fingerprint and description); one of other machines, or of none, is not gone
 * on from: the run verifies in full, says why, and still compares the history digest.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});
const dataDir = dataDirs('credence-replay-machines-');

type Saved = { machines?: { fingerprint: string; description: string }; entities: [string, string, string, unknown, Record<string, unknown>, ...unknown[]][] };

/**
 * Given cred-1 rotating to cred-2 (provisioned, the overlap ending at(30)) and a checkpoint of that; when cred-2 is
 * revoked after the overlap ended and the scheduler then revokes cred-1 as superseded (held at the end of the overlap).
 */
const handedOverAfterCheckpoint = async (edit: (saved: Saved) => void) => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock }));
  await rotateOne(c.engine);
  await c.settle();
  const checkpoint = new CheckpointFile(dataDir());
  expect(await verifyFleet(c.store, { checkpoint })).toMatchObject({ mode: 'full', replay: { findings: [] } });
  const saved = readCheckpointFileJson(checkpoint.path) as Saved;
  edit(saved);
  writeFileSync(checkpoint.path, JSON.stringify(saved));

  clock.set(at(31));
  await c.engine.execute(cmd.revokeCredential('cred-2', 'keyCompromise'));
  await c.settle();
  await c.tick();
  expect((await c.engine.entity('credential', 'cred-1')).snapshot).toMatchObject({ value: 'revoked', context: { revocationReason: 'superseded' } });
  return { c, checkpoint };
};

/** As a build before dde301e kept a credential's context: without when it was provisioned and when it ended. */
const asAnOlderBuildWroteIt = (saved: Saved): void => {
  delete saved.machines;
  for (const entity of saved.entities) {
    if (entity[1] !== 'credential') continue;
    delete entity[4].provisionedAt;
    delete entity[4].endedAt;
  }
};

describe('a replay checkpoint made by other machines is not gone on from (review 119)', () => {
  it('names the machines that made it', async () => {
    const { checkpoint } = await handedOverAfterCheckpoint(() => {});
    const saved = readCheckpointFileJson(checkpoint.path) as Saved;
    expect(saved.machines).toMatchObject({ fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), description: expect.stringContaining('machines') });
  });

  it('goes on from one made by these machines', async () => {
    const { c, checkpoint } = await handedOverAfterCheckpoint(() => {});
    const incremental = await verifyFleet(c.store, { checkpoint });
    expect(incremental).toMatchObject({ mode: 'incremental', notes: [] });
    expect(incremental.replay).toEqual(await replayAll(c.store));
  });

  it.each([
    ['without the machines, as an earlier version wrote it', asAnOlderBuildWroteIt, 'machines it did not record'],
    ['of other machines', (saved: Saved) => { asAnOlderBuildWroteIt(saved); saved.machines = { fingerprint: 'a'.repeat(64), description: 'the machines of another build' }; }, 'the machines of another build'],
    ['of other machines, its snapshots as these machines keep them', (saved: Saved) => { saved.machines = { fingerprint: 'b'.repeat(64), description: 'the machines of another build' }; }, 'the machines of another build'],
  ])('verifies in full from one %s, says why, and gives the full verdict', async (_, edit, named) => {
    const { c, checkpoint } = await handedOverAfterCheckpoint(edit);
    const result = await verifyFleet(c.store, { checkpoint });
    expect(result.mode).toBe('full');
    expect(result.altered).toBeUndefined();
    expect(result.notes).toEqual([expect.stringMatching(new RegExp(`^checkpoint not continued: it was made by other machines: ${named}.*; verified in full$`))]);
    // The handover was legal: cred-2 was held at the end of the overlap.
    expect(result.replay.findings).toEqual([]);
    expect(result.replay).toEqual(await verifyFleet(c.store, { full: true }).then((r) => r.replay));
    // The checkpoint saved now is these machines', and the next run goes on from it.
    expect(await verifyFleet(c.store, { checkpoint })).toMatchObject({ mode: 'incremental', notes: [] });
  });

  it('still reports a history altered behind one of other machines', async () => {
    const { c, checkpoint } = await handedOverAfterCheckpoint((saved) => {
      asAnOlderBuildWroteIt(saved);
      (saved as unknown as { digest: string }).digest = '0'.repeat(64);
    });
    const result = await verifyFleet(c.store, { checkpoint });
    expect(result).toMatchObject({ mode: 'full', altered: { reason: expect.stringContaining('is not the one verified') } });
  });
});
