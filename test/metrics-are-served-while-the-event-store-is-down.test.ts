/**
 * Review 144 (F2): the lag gauges read the store's head when scraped, and a failed read failed the whole scrape
 * (503 `store_unavailable`): every metric, the refusals and the dead letters included, went missing exactly during an
 * event store outage. The lag gauges are now left out, `credence_store_up` says 0, and the rest is served.
 */
import { describe, expect, it } from 'vitest';
import { EventStoreDbError } from '../adapters/driven/store/index.ts';
import { createServiceMetrics } from '../adapters/http/metrics.ts';
import { useTestService } from './support/service.ts';

describe('/metrics while the event store does not answer', () => {
  const svc = useTestService();

  it('answers 200 with every other metric, the lag gauges left out and credence_store_up 0, then 1 once the store answers', async () => {
    // A refusal to be counted: no token.
    expect((await fetch(`${svc.url}/v1/entities`)).status).toBe(401);
    const { store } = svc.service.context.credence;
    const headPosition = store.headPosition;
    store.headPosition = () => Promise.reject(new EventStoreDbError('connection refused', true, { unreachable: true }));
    try {
      const down = await fetch(`${svc.url}/metrics`);
      const text = await down.text();
      expect(down.status, text).toBe(200);
      expect(text).toMatch(/^credence_http_refused_total\{status="401",route="\/v1\/entities"\} 1$/m);
      expect(text).toMatch(/^credence_store_up 0$/m);
      expect(text).not.toMatch(/^credence_projection_lag_events\{/m);
      expect(text).not.toMatch(/^credence_projection_lag_seconds\{/m);
      expect(text).toMatch(/^credence_cascade_dead_letters 0$/m);
    } finally {
      store.headPosition = headPosition;
    }
    // A failed read is not kept: the next scrape reads the head again.
    const up = await (await fetch(`${svc.url}/metrics`)).text();
    expect(up).toMatch(/^credence_store_up 1$/m);
    expect(up).toMatch(/^credence_projection_lag_events\{component="cascade"\} \d+$/m);
  });
});

describe('a metric whose source fails when scraped', () => {
  // prom-client writes NaN as `Nan`, which Prometheus reads as NaN (any case).
  it('is NaN, and the scrape still answers every other metric', async () => {
    const metrics = createServiceMetrics({
      components: () => Promise.reject(new Error('connection refused')),
      deadLetters: () => {
        throw new Error('database is locked');
      },
      expiryDeadLetters: () => 2,
    });
    metrics.requestRefused(503, '/v1/commands');
    const text = await metrics.render();
    expect(text).toMatch(/^credence_cascade_dead_letters nan$/im);
    expect(text).toMatch(/^credence_expiry_dead_letters 2$/m);
    expect(text).toMatch(/^credence_store_up 0$/m);
    expect(text).toMatch(/^credence_http_refused_total\{status="503",route="\/v1\/commands"\} 1$/m);
  });
});
