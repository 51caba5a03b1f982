import { describe, expect, it } from 'vitest';
import { createLogDestination, type LogDestinationOptions, type WriteChunk } from '../adapters/http/log-destination.ts';
import { createServiceMetrics } from '../adapters/http/metrics.ts';

/*
 * Review 81, finding 1: the service's log destination drops and counts the lines it cannot write, says so once on
 * stderr (and again, with the count, once writing works again), never retries a failed write for ever, and otherwise
 * writes every line, in order. test/service-serves-and-stops-when-its-log-destination-fails.test.ts runs the service.
 */

type Outcome = { readonly error: string } | { readonly writes: number } | 'all';

/** A destination whose writes answer, one after another, as `script` says (then `all` for ever), asynchronously. */
const scripted = (script: Outcome[], options: Partial<LogDestinationOptions> = {}) => {
  const written: Buffer[] = [];
  const notices: string[] = [];
  let calls = 0;
  const writeChunk: WriteChunk = (chunk, done) => {
    calls += 1;
    const outcome = script.shift() ?? 'all';
    setImmediate(() => {
      if (outcome !== 'all' && 'error' in outcome) return done(Object.assign(new Error(outcome.error), { code: outcome.error }), 0);
      const n = outcome === 'all' ? chunk.length : Math.min(outcome.writes, chunk.length);
      written.push(Buffer.from(chunk.subarray(0, n)));
      done(null, n);
    });
  };
  const destination = createLogDestination({ name: 'stdout', writeChunk, notice: (line) => notices.push(line), busyRetryMs: 1, ...options });
  const flushed = (): Promise<void> => new Promise((resolve) => destination.flush(resolve));
  return { destination, flushed, notices, text: () => Buffer.concat(written).toString(), calls: () => calls };
};

const lines = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `{"n":${from + i}}\n`);

describe('the log destination', () => {
  it('writes every line, in order, in few writes (lines given while one is under way go in the next)', async () => {
    const { destination, flushed, text, calls, notices } = scripted([]);
    for (const line of lines(0, 1000)) destination.write(line);
    await flushed();
    expect(text()).toBe(lines(0, 1000).join(''));
    // One write for the first line, then the 999 others in 16 KiB chunks: not a write per line.
    expect(calls()).toBeLessThanOrEqual(3);
    expect(destination.dropped).toBe(0);
    expect(notices).toEqual([]);
  });

  it('goes on after a short write with the rest of the chunk', async () => {
    const { destination, flushed, text } = scripted(['all', { writes: 5 }, { writes: 3 }]);
    for (const line of lines(0, 20)) destination.write(line);
    await flushed();
    expect(text()).toBe(lines(0, 20).join(''));
  });

  it('drops the lines of a failed write and those waiting, counts them, says so once; says so again with the count once it works', async () => {
    const { destination, flushed, text, notices } = scripted(['all', { error: 'ENOSPC' }]);
    destination.write(lines(0, 1)[0]!);
    for (const line of lines(1, 4)) destination.write(line); // one chunk, under way once the first line is written
    await new Promise((resolve) => setImmediate(resolve));
    for (const line of lines(4, 6)) destination.write(line); // waiting behind that chunk, which fails
    await flushed();
    expect(destination.dropped).toBe(5);
    expect(notices).toEqual(['warning: writing the log to stdout failed (ENOSPC): log lines are dropped until it works again']);
    for (const line of lines(6, 8)) destination.write(line);
    await flushed();
    expect(text()).toBe(lines(0, 1).join('') + lines(6, 8).join(''));
    expect(notices.slice(1)).toEqual(['the log is written to stdout again; 5 log lines were dropped']);
  });

  it('says it once however many writes fail, and never tries a failed write again', async () => {
    const failures: Outcome[] = Array.from({ length: 100 }, () => ({ error: 'EFBIG' }));
    const { destination, flushed, notices, calls } = scripted(failures);
    for (const line of lines(0, 100)) {
      destination.write(line);
      await flushed();
    }
    expect(destination.dropped).toBe(100);
    expect(calls()).toBe(100);
    expect(notices).toHaveLength(1);
  });

  it('begins a new line after one cut short by a failure, so the cut line swallows no other', async () => {
    const { destination, flushed, text } = scripted([{ writes: 4 }, { error: 'ENOSPC' }]);
    destination.write('{"n":0}\n');
    await flushed();
    expect(destination.dropped).toBe(1);
    destination.write('{"n":1}\n');
    await flushed();
    expect(text()).toBe('{"n"\n{"n":1}\n');
  });

  it('tries a busy destination again, a bounded number of times, then drops its lines', async () => {
    const busyThenFine = scripted([{ error: 'EAGAIN' }, { error: 'EAGAIN' }], { busyRetries: 3 });
    busyThenFine.destination.write('{"n":0}\n');
    await busyThenFine.flushed();
    expect(busyThenFine.text()).toBe('{"n":0}\n');
    expect(busyThenFine.destination.dropped).toBe(0);

    const busy = scripted(Array.from({ length: 10 }, () => ({ error: 'EAGAIN' })), { busyRetries: 3 });
    busy.destination.write('{"n":0}\n');
    await busy.flushed();
    expect(busy.calls()).toBe(4);
    expect(busy.destination.dropped).toBe(1);
  });

  it('drops, and counts, lines past the bound of what waits for a slow reader', async () => {
    const { destination, flushed, text } = scripted([], { maxWaitingChars: 20 });
    for (const line of lines(0, 5)) destination.write(line); // 8 characters each: the first is under way, two wait
    await flushed();
    expect(text()).toBe(lines(0, 3).join(''));
    expect(destination.dropped).toBe(2);
  });

  it('writes what waits at exit in one synchronous attempt, behind the write under way, and gives up at once when it fails', () => {
    const synced: string[] = [];
    const never: WriteChunk = () => {};
    const working = createLogDestination({ name: 'stdout', writeChunk: never, notice: () => {}, writeChunkSync: (c) => (synced.push(c.toString()), c.length) });
    for (const line of lines(0, 3)) working.write(line); // the first under way, never answered; two waiting
    working.writeWaitingNow();
    // The one under way is not written a second time.
    expect(synced).toEqual([lines(1, 3).join('')]);

    let attempts = 0;
    const failing = createLogDestination({
      name: 'stdout',
      writeChunk: never,
      notice: () => {},
      writeChunkSync: () => {
        attempts += 1;
        throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
      },
    });
    for (const line of lines(0, 3)) failing.write(line);
    expect(() => failing.writeWaitingNow()).not.toThrow();
    expect(attempts).toBe(1);
  });

  it('at exit, waits out a busy destination for the last lines, and counts and says the lines it could not write (review 86)', () => {
    const never: WriteChunk = () => {};
    const synced: string[] = [];
    let busy = 3;
    const retried = createLogDestination({
      name: 'stdout',
      writeChunk: never,
      notice: () => {},
      writeChunkSync: (c) => {
        if (busy-- > 0) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
        synced.push(c.toString());
        return c.length;
      },
    });
    for (const line of lines(0, 3)) retried.write(line);
    retried.writeWaitingNow();
    expect(synced).toEqual([lines(1, 3).join('')]);
    expect(retried.dropped).toBe(0);

    const notices: string[] = [];
    let calls = 0;
    const cut = createLogDestination({
      name: 'stdout',
      writeChunk: never,
      notice: (line) => notices.push(line),
      // Half of the first waiting line, then a failure.
      writeChunkSync: () => {
        if (calls++ === 0) return 4;
        throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
      },
    });
    for (const line of lines(0, 4)) cut.write(line); // the first under way; three waiting
    cut.writeWaitingNow();
    expect(cut.dropped).toBe(3);
    expect(notices).toEqual(['warning: 3 log lines were not written to stdout at exit']);
  });

  it('takes a write of nothing for a busy destination: tried again a bounded number of times, never in a loop', async () => {
    const { destination, flushed, calls } = scripted(Array.from({ length: 10 }, () => ({ writes: 0 })), { busyRetries: 2 });
    destination.write('{"n":0}\n');
    await flushed();
    expect(calls()).toBe(3);
    expect(destination.dropped).toBe(1);
  });

  it('is counted in the metrics as credence_log_lines_dropped_total', async () => {
    const text = await createServiceMetrics().render();
    expect(text).toMatch(/^# TYPE credence_log_lines_dropped_total counter$/m);
    expect(text).toMatch(/^credence_log_lines_dropped_total \d+$/m);
  });
});
