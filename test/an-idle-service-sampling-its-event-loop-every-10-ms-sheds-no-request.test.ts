/**
 * Review 309: @fastify/under-pressure empties its delay histogram at each sample and reads a sample with no readings
 * (NaN mean) as a lag of Infinity. At a short `pressureSampleIntervalMs` most samples of an idle loop hold none: an
 * idle service sampling every 10 ms refused most requests 503 `overloaded (eventLoopDelay)`. The lag is read by the
 * service itself (adapters/http/event-loop-lag.ts): an empty sample whose timer fired on time is no lag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an idle service that samples its event loop every 10 ms', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { pressureSampleIntervalMs: 10, maxEventLoopDelayMs: 1_000 } } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers 100 spaced requests, none of them 503', async () => {
    const refused: string[] = [];
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${svc.url}/v1/entities/counts`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
      const body = (await response.json()) as { reason?: string };
      if (response.status !== 200) refused.push(`${i}: ${response.status} ${body.reason ?? ''}`);
      // Spaced over more than one sample each, as an idle service's callers are.
      await sleep(7 + (i % 3) * 5);
    }
    expect(refused).toEqual([]);
  });
});
