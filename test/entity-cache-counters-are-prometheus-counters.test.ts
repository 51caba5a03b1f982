import { describe, expect, it } from 'vitest';
import type { EntityCacheStats } from '../adapters/engine/index.ts';
import { createServiceMetrics } from '../adapters/http/metrics.ts';

/*
 * Review 276: the entity cache's hits, misses, assumed-new, evictions and prefetched were exposed as `# TYPE … gauge`
 * under `_total` names, which Prometheus keeps for counters (rate() and the naming lint expect one). They are counters
 * now, read from the cache when scraped as credence_log_lines_dropped_total is; the sizes and the ratio stay gauges.
 */

const COUNTERS = {
  credence_entity_cache_hits_total: 'hits',
  credence_entity_cache_misses_total: 'misses',
  credence_entity_cache_assumed_new_total: 'assumedNew',
  credence_entity_cache_evictions_total: 'evictions',
  credence_entity_cache_prefetched_total: 'prefetched',
} as const;
const GAUGES = ['credence_entity_cache_hit_ratio', 'credence_entity_cache_entries', 'credence_entity_cache_bytes', 'credence_entity_cache_max_bytes'];

describe("the entity cache's metrics", () => {
  it('are counters under _total names, each as the cache counts it when scraped, and gauges otherwise', async () => {
    let stats: EntityCacheStats = { entries: 3, bytes: 2048, maxBytes: 4096, hits: 7, misses: 2, hitRate: 7 / 9, evictions: 1, assumedNew: 4, prefetched: 5 };
    const metrics = createServiceMetrics({ entityCache: () => stats });
    const first = await metrics.render();
    for (const [name, field] of Object.entries(COUNTERS)) {
      expect(first).toMatch(new RegExp(`^# TYPE ${name} counter$`, 'm'));
      expect(first).toMatch(new RegExp(`^${name} ${stats[field]}$`, 'm'));
    }
    for (const name of GAUGES) expect(first).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    expect(first).not.toMatch(/^# TYPE credence_entity_cache_\S+_total gauge$/m);

    stats = { ...stats, hits: 20, misses: 3, evictions: 6, assumedNew: 4, prefetched: 9, hitRate: 20 / 23 };
    const second = await metrics.render();
    for (const [name, field] of Object.entries(COUNTERS)) expect(second).toMatch(new RegExp(`^${name} ${stats[field]}$`, 'm'));
  });
});
