import { describe, expect, it } from 'vitest';
import { HttpProblem } from '../adapters/http/problems.ts';
import { OneAtATime } from '../adapters/http/routes/one-at-a-time.ts';

/**
 * Found in review: evidence bundles were built as they were asked for, each holding the event loop and its memory
 * (33 MB for 20,000 events), so a few callers at once held the service. GET /v1/transparency/evidence builds them one
 * at a time service-wide, with a bounded queue behind; one more caller is refused at once with 429 `busy`.
 */
describe('evidence bundles are built one at a time, and a full queue is busy', () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
  };

  it('starts a job only when the one before has ended, in arrival order', async () => {
    const queue = new OneAtATime('evidence bundles', 8, 5);
    const log: string[] = [];
    const first = gate();
    const a = queue.run(async () => {
      log.push('a starts');
      await first.opened;
      log.push('a ends');
    });
    const b = queue.run(async () => {
      log.push('b starts');
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['a starts']);
    first.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['a starts', 'a ends', 'b starts']);
  });

  it('refuses one caller more than the running job and its queue with 429 busy and Retry-After, and takes callers again once it drains', async () => {
    const queue = new OneAtATime('evidence bundles', 1, 5);
    const running = gate();
    const a = queue.run(() => running.opened);
    const b = queue.run(async () => 'b');
    const refused = await queue.run(async () => 'c').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HttpProblem);
    expect(refused).toMatchObject({ status: 429, code: 'busy', headers: { 'retry-after': '5' } });
    running.open();
    await a;
    expect(await b).toBe('b');
    expect(queue.pending).toBe(0);
    expect(await queue.run(async () => 'd')).toBe('d');
  });

  it('goes on with the next job after one fails', async () => {
    const queue = new OneAtATime('evidence bundles', 2, 5);
    const failed = queue.run(async () => {
      throw new Error('the log was altered');
    });
    const next = queue.run(async () => 'next');
    await expect(failed).rejects.toThrow('the log was altered');
    expect(await next).toBe('next');
  });
});
