/**
 * Review 226: a node registered since the backup and never rotated left no epoch mark (epoch 0 was not marked), so
 * after a whole-folder restore the start did not count it, and registered again it took the epoch-0 pseudonym the
 * folder moved aside had given out already: observers following it linked the two periods (SER-011). Its first
 * pseudonym is now marked once recorded, carried over by `credence pseudonym raise-marks-since-backup`, the start
 * counts the node as unknown in the log, and registered again it starts past its mark.
 */
import { describe, expect, it } from 'vitest';
import { cmd, operator } from './support/fleet.ts';
import { nodeRegisteredSinceBackup, restoreFromBackup } from './support/node-registered-since-backup.ts';
import { startTestService } from './support/service.ts';
import { currentPseudonym, epochMarksOf, eventually } from './support/pseudonym-epochs.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-registered-since-backup-');

describe('a node registered since the backup a whole folder is restored from', () => {
  it('is marked at epoch 0, counted at the start, and registered again gives out none of the pseudonyms it had', async () => {
    const scene = await nodeRegisteredSinceBackup(folder());
    const { data, clock, given } = scene;
    let svc = scene.svc;
    await svc.close();
    // Marked once recorded (at the latest by the close's tick, or the next start from the log).
    expect(epochMarksOf(data).get('meter-9')).toBe(0);

    await restoreFromBackup(scene);
    expect(epochMarksOf(data).get('meter-9')).toBe(0);
    svc = await startTestService({ dir: data, clock });
    try {
      await svc.service.context.credence.pseudonyms!.rotatePastMarks();
      const warned = svc.logs().filter((l) => l.includes('later epochs than the event log holds'));
      expect(warned.join('\n')).toContain('"markedNotInTheLog":1');
      await svc.service.context.credence.engine.execute(cmd.registerNode('meter-9'));
      expect(await eventually(() => currentPseudonym(svc, 'meter-9')?.pseudonym !== undefined)).toBe(true);
      const again = currentPseudonym(svc, 'meter-9')!;
      expect(again.pseudonym).not.toBe(given);
      expect(again.epoch).toBe(1);
      await svc.service.context.credence.settle();
      const outcome = await svc.service.context.credence.pseudonyms!.rotateNow('meter-9', operator);
      expect(outcome).toMatchObject({ outcome: 'rotated', epoch: 2 });
      expect(outcome.outcome === 'rotated' && outcome.pseudonym).not.toBe(given);
      // meter-1, in the backup, is as it was.
      expect(currentPseudonym(svc)?.epoch).toBe(0);
      // A rebuild runs the registration's reaction again: it finds its rotation past the mark, and records none.
      const { credence } = svc.service.context;
      await credence.runner.rebuild('pseudonyms');
      await credence.settle();
      const epochs: unknown[] = [];
      for await (const r of credence.store.readAll({ filter: { eventTypes: ['PseudonymRotated'] } })) {
        if (r.data['nodeId'] === 'meter-9') epochs.push(r.data['epoch']);
      }
      expect(epochs).toEqual([1, 2]);
      expect(currentPseudonym(svc, 'meter-9')?.epoch).toBe(2);
    } finally {
      await svc.close();
    }
  }, 120_000);
});
