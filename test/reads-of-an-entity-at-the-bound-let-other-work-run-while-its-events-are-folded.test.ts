import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLong, seedEntityAtTheBound } from './support/long-entity.ts';
import { startTestService, type TestService } from './support/service.ts';

/** How many ticks of a 1 ms interval land while `work` runs, and the longest time between two (printed, never asserted). */
const ticksDuring = async <T>(work: () => Promise<T>): Promise<{ value: T; ticks: number; took: number; longestBlock: number }> => {
  let ticks = 0;
  let last = performance.now();
  let longestBlock = 0;
  const interval = setInterval(() => {
    const now = performance.now();
    longestBlock = Math.max(longestBlock, now - last);
    last = now;
    ticks++;
  }, 1);
  const start = performance.now();
  try {
    const value = await work();
    return { value, ticks, took: performance.now() - start, longestBlock: Math.max(longestBlock, performance.now() - last) };
  } finally {
    clearInterval(interval);
  }
};

/**
 * Found in review 242's follow-up: at the entity bound (10,000 events) GET /v1/entities/{kind}/{id}, its state at an
 * instant and GET /v1/replay/{kind}/{id} each held the event loop in one block of 200 to 320 ms: the stream read
 * whole, then every event folded through its machine with every guard (and the engine's rebuild, for the entity now),
 * with only microtasks between; /healthz, the device endpoints and every other request waited behind it. The stream
 * is now read in pages and folded with a turn of the event loop (a macrotask) every few hundred events, so a timer
 * set as the request starts fires many times before its answer. Counts, never times: the longest block is printed
 * for the report, as timings on a shared machine are noisy.
 */
describe('reads of an entity at the bound', () => {
  let svc: TestService;
  let events = 0;

  beforeAll(async () => {
    svc = await startTestService();
    events = await seedEntityAtTheBound(svc);
  }, 300_000);
  afterAll(async () => {
    await svc?.close();
  });

  const at = () => encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
  const routes: [string, () => string][] = [
    ['the entity now', () => '/v1/entities/node/gw'],
    ['its state at an instant', () => `/v1/entities/node/gw/state?at=${at()}`],
    ['its replay', () => '/v1/replay/node/gw'],
  ];

  it.each(routes)('%s: a 1 ms timer set as the request starts fires many times before the answer', async (name, path) => {
    expect(events).toBeGreaterThan(svc.service.context.limits.maxEntityEvents - 3);
    const { value: reply, ticks, took, longestBlock } = await ticksDuring(() => getLong(svc, path(), svc.tokens.auditor));
    console.log(`${name} of ${events} events: ${took.toFixed(0)} ms, ${ticks} ticks of a 1 ms timer, longest block ${longestBlock.toFixed(0)} ms`);
    expect(reply.status).toBe(200);
    // A read and a fold of 10,000 events in turns of a few hundred: some 55 to 95 ticks. In one block, 2 to 13 (the
    // request's own I/O, the answer's writing).
    expect(ticks).toBeGreaterThanOrEqual(30);
  }, 120_000);
});
