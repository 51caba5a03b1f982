import { describe, expect, it } from 'vitest';
import { OneAtATime } from '../adapters/http/routes/one-at-a-time.ts';
import { gate, queueHeldByMallory } from './support/evidence-queue.ts';

/**
 * Review 181: an evidence fetch the console (or any client) abandoned still held its caller's place in the evidence
 * queue: the server went on to build the bundle for nobody, and the caller's next fetch was refused 429 `busy`. A job
 * whose signal aborts (its client gone) while it waits is skipped, its place given back at once; one already running
 * finishes (the server is building it, one at a time), but its caller's place is given back when the client goes.
 */
describe('the evidence queue gives back the places of requests whose client went away', () => {
  const gone = () => new Error('the client went away');

  it('skips a waiting job whose client went away, gives its place back at once, and takes the caller again', async () => {
    const { queue, slow, log, first } = queueHeldByMallory();
    const client = new AbortController();
    const abandoned = queue.run(async () => void log.push('mallory 2 (abandoned)'), 'mallory', client.signal);
    await expect(queue.run(async () => 'refused', 'mallory')).rejects.toMatchObject({ status: 429, code: 'busy' });

    // Given the second fetch's client went away while it waited, then its place is given back before the first ends.
    client.abort(gone());
    await expect(abandoned).rejects.toThrow('the client went away');
    expect(queue.pendingOf('mallory')).toBe(1);
    expect(queue.pending).toBe(1);
    const next = queue.run(async () => {
      log.push('mallory 3');
      return 'bundle';
    }, 'mallory');

    slow.open();
    await first;
    expect(await next).toBe('bundle');
    // The abandoned job was never built.
    expect(log).toEqual(['mallory 1', 'mallory 3']);
    expect(queue.pending).toBe(0);
    expect(queue.pendingOf('mallory')).toBe(0);
  });

  it("gives the caller's place back when the client of a running job goes, while the job still holds the queue until it ends", async () => {
    const queue = new OneAtATime('evidence bundles', 8, 5, 1);
    const slow = gate();
    const client = new AbortController();
    const log: string[] = [];
    const running = queue.run(async () => {
      log.push('a starts');
      await slow.opened;
      log.push('a ends');
      return 'a';
    }, 'mallory', client.signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['a starts']);

    client.abort(gone());
    expect(queue.pendingOf('mallory')).toBe(0);
    // Still one at a time: the next job waits for the one running, which the server is still building.
    expect(queue.pending).toBe(1);
    const next = queue.run(async () => void log.push('b starts'), 'mallory');
    expect(queue.pending).toBe(2);
    slow.open();
    await running.catch(() => undefined);
    await next;
    expect(log).toEqual(['a starts', 'a ends', 'b starts']);
    expect(queue.pending).toBe(0);
    expect(queue.pendingOf('mallory')).toBe(0);
  });

  it('refuses at once, taking no place, a job whose client has already gone', async () => {
    const queue = new OneAtATime('evidence bundles', 0, 5, 1);
    let ran = false;
    await expect(queue.run(async () => void (ran = true), 'mallory', AbortSignal.abort(gone()))).rejects.toThrow('the client went away');
    expect(queue.pending).toBe(0);
    expect(queue.pendingOf('mallory')).toBe(0);
    expect(ran).toBe(false);
    expect(await queue.run(async () => 'built', 'mallory')).toBe('built');
  });

  it('leaves no listener on a signal once its job has ended (a kept-alive connection serves many requests)', async () => {
    const queue = new OneAtATime('evidence bundles', 8, 5, 2);
    const client = new AbortController();
    for (let i = 0; i < 20; i++) await queue.run(async () => i, 'mallory', client.signal);
    client.abort(gone());
    expect(queue.pendingOf('mallory')).toBe(0);
    expect(queue.pending).toBe(0);
  });
});
