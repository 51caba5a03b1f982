/**
 * Review 309: the service reads its event loop's lag itself (adapters/http/event-loop-lag.ts), as @fastify/under-pressure
 * read a sample without readings as Infinity. A sample holds no reading either when the loop was idle or when it was
 * blocked for the whole interval: the lateness of the sampling timer tells them apart. The reading begins as the
 * service serves and ends as it closes, its timer never holding the process open.
 */
import { describe, expect, it } from 'vitest';
import { watchEventLoopLag } from '../adapters/http/event-loop-lag.ts';
import { eventLoopLagOf } from '../adapters/http/protection.ts';
import { startTestService } from './support/service.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds the event loop, as synchronous work does. */
const blockTheLoop = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else runs
  }
};

describe('the event loop lag, read once per sample interval', () => {
  it('reads an idle loop sampled every 10 ms as a small lag, never Infinity', async () => {
    const lag = watchEventLoopLag(10);
    try {
      const readings: number[] = [];
      for (let i = 0; i < 60; i++) {
        await sleep(5);
        readings.push(lag.lagMs);
      }
      expect(readings.filter((reading) => !Number.isFinite(reading))).toEqual([]);
      expect(Math.max(...readings)).toBeLessThan(500);
    } finally {
      lag.stop();
    }
  });

  it('reads a loop blocked longer than the whole interval as lagging about as long as the block, each time', async () => {
    // Node's monitor records a delay when its own timer fires: after a block, the sampling timer fires first as often
    // as not, and finds no reading. Its lateness is the block.
    const lag = watchEventLoopLag(10);
    try {
      const readings: number[] = [];
      for (let i = 0; i < 10; i++) {
        await sleep(10 + (i % 7));
        blockTheLoop(100);
        // The sampling timer, overdue, fires before this one.
        await sleep(1);
        readings.push(Math.round(lag.lagMs));
      }
      expect(readings.filter((reading) => reading < 50)).toEqual([]);
    } finally {
      lag.stop();
    }
  });

  it('reads one stall across a long interval\'s due time by the interval\'s mean, not by how late the sample came (review 315)', async () => {
    // A second's interval: 700 ms of an idle loop's readings, then a 600 ms stall across the due time. The sample comes
    // some 300 ms late; read as the lag, it was kept for the whole next interval (a minute at 60 s) and shed it all.
    const lag = watchEventLoopLag(1_000);
    try {
      await sleep(700);
      blockTheLoop(600);
      await sleep(20);
      expect(lag.lagMs).toBeLessThan(150);
    } finally {
      lag.stop();
    }
  });

  it('stops: its timer cleared; it never held the process open', () => {
    const lag = watchEventLoopLag(10);
    expect(lag.sampling).toBe(true);
    expect(lag.holdsTheProcessOpen).toBe(false);
    lag.stop();
    expect(lag.sampling).toBe(false);
    expect(lag.holdsTheProcessOpen).toBe(false);
  });
});

describe('a service judging its event loop lag', () => {
  it('reads it from when it serves until it closes, and leaves no timer behind', async () => {
    const svc = await startTestService({ config: { limits: { maxEventLoopDelayMs: 1_000, pressureSampleIntervalMs: 50 } } });
    const app = svc.service.app;
    const lag = eventLoopLagOf(app);
    try {
      expect(lag?.sampling).toBe(true);
      expect(lag?.holdsTheProcessOpen).toBe(false);
    } finally {
      await svc.close();
    }
    expect(lag?.sampling).toBe(false);
    expect(eventLoopLagOf(app)).toBeUndefined();
  });

  it('reads none with the bound off (0)', async () => {
    const svc = await startTestService({ config: { limits: { maxEventLoopDelayMs: 0, pressureSampleIntervalMs: 50 } } });
    try {
      expect(eventLoopLagOf(svc.service.app)).toBeUndefined();
    } finally {
      await svc.close();
    }
  });
});
