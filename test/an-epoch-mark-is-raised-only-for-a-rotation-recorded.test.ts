/**
 * Review 156: keys.db's epoch marks (a pseudonym given out at that epoch) were raised before a rotation was recorded,
 * and ticks and demands aimed past them. A restart with nodes due for rotation then rotated them twice and warned of
 * a restore that never happened (the first tick raised marks the directory did not show yet); a tick run again before
 * the directory caught up pushed every mark past the log; a refused demand raised the mark once per request. A mark
 * is now raised once its rotation is recorded, and only a start (the first tick or demand of a process) rotates a
 * node the store holds less of than its mark.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { unauthorised } from '../domain/errors.ts';
import { nodePseudonym } from '../projections/pseudonyms/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { epochMarksOf } from './support/pseudonym-epochs.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-epoch-marks-');
const DAY = 86_400_000;
const NODES = 40;

const epochOf = (svc: TestService, nodeId: string) => nodePseudonym(svc.service.context.credence.readModels, nodeId)?.epoch;
const restoreWarnings = (svc: TestService) => svc.logs().filter((l) => l.includes('later epochs than the event log holds'));

describe('epoch marks follow the rotations recorded', () => {
  it('a restart with every node due rotates each once, and warns of no restore', async () => {
    const data = folder();
    const clock = new FakeClock(T0);
    let svc = await startTestService({ dir: data, clock });
    const { engine } = svc.service.context.credence;
    for (let n = 0; n < NODES; n++) await engine.execute(cmd.registerNode(`meter-${n}`));
    await svc.service.context.credence.settle();
    await svc.close();
    clock.advance(2 * DAY);
    svc = await startTestService({ dir: data, clock });
    try {
      await svc.service.context.credence.pseudonyms!.tick();
      await svc.service.context.credence.settle();
      for (let n = 0; n < NODES; n++) expect(epochOf(svc, `meter-${n}`), `meter-${n}`).toBe(1);
      expect(restoreWarnings(svc)).toEqual([]);
      const marks = epochMarksOf(data);
      for (let n = 0; n < NODES; n++) expect(marks.get(`meter-${n}`)).toBe(1);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('a tick run again before the directory catches up leaves every mark at the epoch recorded', async () => {
    const data = folder();
    const clock = new FakeClock(T0);
    const svc = await startTestService({ dir: data, clock, config: { tickMs: 3_600_000 } });
    try {
      const { credence } = svc.service.context;
      for (let n = 0; n < NODES; n++) await credence.engine.execute(cmd.registerNode(`meter-${n}`));
      await credence.settle();
      clock.advance(2 * DAY);
      await credence.pseudonyms!.tick();
      await credence.pseudonyms!.tick();
      await credence.settle();
      const marks = epochMarksOf(data);
      for (let n = 0; n < NODES; n++) {
        expect(epochOf(svc, `meter-${n}`)).toBe(1);
        expect(marks.get(`meter-${n}`), `meter-${n}`).toBe(1);
      }
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('a demand refused before it is decided raises no mark', async () => {
    const data = folder();
    const svc = await startTestService({ dir: data });
    try {
      const { credence } = svc.service.context;
      await credence.engine.execute(cmd.registerNode('meter-1'));
      await credence.settle();
      const refuse = { admit: () => { throw unauthorised(operator.id, 'the token was revoked meanwhile'); } };
      for (let n = 0; n < 3; n++) {
        await expect(credence.pseudonyms!.rotateNow('meter-1', operator, randomUUID(), refuse)).rejects.toMatchObject({ problem: { code: 'unauthorised' } });
      }
      // The registration's pseudonym is marked (review 226), the refused demands raised nothing past it.
      expect(epochMarksOf(data).get('meter-1')).toBe(0);
      expect(epochOf(svc, 'meter-1')).toBe(0);
      expect(await credence.pseudonyms!.rotateNow('meter-1', operator, randomUUID())).toMatchObject({ outcome: 'rotated', epoch: 1 });
      expect(epochMarksOf(data).get('meter-1')).toBe(1);
    } finally {
      await svc.close();
    }
  });
});
