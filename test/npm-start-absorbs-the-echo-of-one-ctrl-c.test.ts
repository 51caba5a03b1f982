import { afterEach, describe, expect, it, vi } from 'vitest';
import { absorbEchoedSignals } from '../bin/commands/demo/signals.ts';

/*
 * Under npm one Ctrl-C reaches the server twice. The echo must not end the graceful shutdown the first began, nor the
 * process once that shutdown was quick: a process already exiting no longer hands a signal to a listener, and an
 * echo arriving then ended `npm start` by SIGINT instead of exit 0 (test/demo.test.ts, now and then). The listeners
 * are called with process.emit (no real signal is sent) and process.kill is stubbed.
 */
describe('npm start, signals', () => {
  afterEach(() => vi.restoreAllMocks());

  it('swallows the echo, and ends the process on a press after the echo window', async () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const before = process.listenerCount('SIGINT');
    absorbEchoedSignals();
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
    expect(kill).not.toHaveBeenCalled();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    process.emit('SIGINT', 'SIGINT');
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGINT');
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('holds the end of a quick shutdown until the echo has come', async () => {
    const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    const stop = absorbEchoedSignals();
    process.emit('SIGINT', 'SIGINT');
    let ended = false;
    const ending = stop().then(() => (ended = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ended).toBe(false);
    process.emit('SIGINT', 'SIGINT');
    await ending;
    expect(ended).toBe(true);
    // The listener stays once a signal came (the process is ending); this one is not.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const listener of process.listeners(signal)) if (!before[signal].includes(listener)) process.off(signal, listener);
    }
  });

  it('ends at once, letting go of the signals, when the service stopped without one', async () => {
    const before = process.listenerCount('SIGTERM');
    await absorbEchoedSignals()();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
