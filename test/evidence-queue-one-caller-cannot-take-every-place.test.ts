import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../adapters/http/problems.ts';
import { OneAtATime } from '../adapters/http/routes/one-at-a-time.ts';
import { gate, queueHeldByMallory } from './support/evidence-queue.ts';

/**
 * Review 175 (SER-001): the evidence-bundle queue was one for all callers, so one principal keeping 9 requests open
 * held every other auditor at 429 `busy`. Each caller now has at most a few places in it: past them that caller is
 * refused (429 `busy`, Retry-After) while the others still queue.
 */
describe('one caller cannot take every place of the evidence-bundle queue', () => {
  it("refuses a caller's third bundle while its two are built or waiting, and still queues and serves another caller's", async () => {
    const { queue, slow, log, first } = queueHeldByMallory();
    const second = queue.run(async () => void log.push('mallory 2'), 'mallory');
    const refused = await queue.run(async () => void log.push('mallory 3'), 'mallory').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HttpProblem);
    expect(refused).toMatchObject({ status: 429, code: 'busy', headers: { 'retry-after': '5' } });
    expect((refused as HttpProblem).message).toContain('2');
    const other = queue.run(async () => {
      log.push('alice');
      return 'bundle';
    }, 'alice');
    expect(queue.pending).toBe(3);
    slow.open();
    expect(await other).toBe('bundle');
    await Promise.all([first, second]);
    expect(log).toEqual(['mallory 1', 'mallory 2', 'alice']);
  });

  it("takes the caller's bundles again once its own have been built, and forgets callers with none left", async () => {
    const queue = new OneAtATime('evidence bundles', 8, 5, 1);
    const slow = gate();
    const first = queue.run(() => slow.opened, 'mallory');
    await expect(queue.run(async () => 'again', 'mallory')).rejects.toMatchObject({ status: 429, code: 'busy' });
    slow.open();
    await first;
    expect(await queue.run(async () => 'again', 'mallory')).toBe('again');
    expect(queue.pendingOf('mallory')).toBe(0);
  });

  it('refuses a bound per caller that is not a whole number of at least one', () => {
    expect(() => new OneAtATime('evidence bundles', 8, 5, 0)).toThrow(RangeError);
    expect(() => new OneAtATime('evidence bundles', 8, 5, 1.5)).toThrow(RangeError);
  });
});
