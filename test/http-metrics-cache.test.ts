/**
 * Issue 12 review: /metrics is public and not rate-limited, and each scrape read the live status twice (once per
 * lag gauge), each read a read of the store's head: a scrape flood cost the store two reads a request. One read now
 * serves both gauges and every scrape for a second.
 */
import { describe, expect, it } from 'vitest';
import { createServiceMetrics } from '../adapters/http/metrics.ts';
import type { ComponentStatus } from '../adapters/runtime/index.ts';

const status = (eventsBehind: number): ComponentStatus[] => [{ name: 'entities', checkpoint: '7', head: '9', eventsBehind, secondsBehind: 0.5 }];

/** Metrics over a status source that counts its reads, on a clock the test moves. */
const counted = (read: (n: number) => Promise<readonly ComponentStatus[]> = async () => status(2)) => {
  const clock = { ms: 1_000_000 };
  const reads = { count: 0 };
  const metrics = createServiceMetrics({
    components: () => read(++reads.count),
    now: () => clock.ms,
  });
  return { metrics, reads, clock };
};

describe('/metrics reads the live status at most once a second', () => {
  it('one read serves both lag gauges and every scrape within the second; the next second reads again', async () => {
    const { metrics, reads, clock } = counted(async (n) => status(n));
    const first = await metrics.render();
    expect(reads.count).toBe(1);
    expect(first).toContain('credence_projection_lag_events{component="entities"} 1');
    expect(first).toContain('credence_projection_lag_seconds{component="entities"} 0.5');
    await Promise.all([metrics.render(), metrics.render(), metrics.render()]);
    clock.ms += 999;
    await metrics.render();
    expect(reads.count).toBe(1);
    clock.ms += 1;
    expect(await metrics.render()).toContain('credence_projection_lag_events{component="entities"} 2');
    expect(reads.count).toBe(2);
  });

  it('scrapes arriving while the read is in flight share it', async () => {
    let release!: () => void;
    const { metrics, reads } = counted(() => new Promise((resolve) => (release = () => resolve(status(0)))));
    const scrapes = Promise.all([metrics.render(), metrics.render()]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await scrapes;
    expect(reads.count).toBe(1);
  });

  it('a failed read is not kept: the next scrape reads again', async () => {
    const { metrics, reads } = counted(async (n) => {
      if (n === 1) throw new Error('store unreachable');
      return status(0);
    });
    // Served all the same, the store said down (review 144: a failed read failed the whole scrape).
    expect(await metrics.render()).toMatch(/^credence_store_up 0$/m);
    expect(await metrics.render()).toContain('credence_projection_lag_events{component="entities"} 0');
    expect(reads.count).toBe(2);
  });
});
