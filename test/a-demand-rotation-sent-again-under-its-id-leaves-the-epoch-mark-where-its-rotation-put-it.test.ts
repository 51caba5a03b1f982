/**
 * Review 153: a demand rotation sent again under its command id (what a client does after a lost answer) aimed at the
 * epoch after its first rotation and raised keys.db's epoch mark there before the engine answered it from the first
 * rotation. Each resend raised the mark once more; the next start then took the node for one whose rotations a restore
 * had lost, warned of a restore and rotated it again, skipping epochs nobody asked for. A resend now leaves the mark
 * where its rotation put it.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nodePseudonym } from '../projections/pseudonyms/index.ts';
import { cmd, operator } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { epochMarksOf } from './support/pseudonym-epochs.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-rotation-resend-');

describe('a demand rotation sent again under its command id', () => {
  it('is answered from its first rotation and raises no epoch mark, so the next start rotates nothing', async () => {
    const data = folder();
    const svc = await startTestService({ dir: data });
    try {
      const { credence } = svc.service.context;
      await credence.engine.execute(cmd.registerNode('meter-1'));
      await credence.settle();
      expect(nodePseudonym(credence.readModels, 'meter-1')?.epoch).toBe(0);
      const commandId = randomUUID();
      const first = await credence.pseudonyms!.rotateNow('meter-1', operator, commandId);
      expect(first).toMatchObject({ outcome: 'rotated', epoch: 1 });
      await credence.settle();
      expect(nodePseudonym(credence.readModels, 'meter-1')?.epoch).toBe(1);
      for (let resend = 0; resend < 3; resend++) {
        expect(await credence.pseudonyms!.rotateNow('meter-1', operator, commandId)).toMatchObject({ outcome: 'duplicate', epoch: 1, pseudonym: first.outcome === 'rotated' ? first.pseudonym : '' });
      }
      expect(epochMarksOf(data).get('meter-1')).toBe(1);
      expect(await credence.pseudonyms!.rotatePastMarks()).toEqual({ behind: 0, rotated: 0, other: 0 });
      // A new demand goes on from the first rotation's epoch, skipping none.
      expect(await credence.pseudonyms!.rotateNow('meter-1', operator, randomUUID())).toMatchObject({ outcome: 'rotated', epoch: 2 });
    } finally {
      await svc.close();
    }
  });
});
