import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 330 item 1: a request refused because its address spent its budget of refused tokens was counted in
 * credence_http_rate_limited_total by the access hook, and again by the rate limit, which found the address over its
 * limit too: 15 junk tokens at rateLimitPerAddress 5 were 5 401s and 10 429s, credence_http_refused_total{status="429"}
 * 10 and credence_http_rate_limited_total 20. Each 429 is counted once.
 */
describe('a request refused past its address’s budget of refused tokens', () => {
  const svc = useTestService({ config: { limits: { rateLimitPerAddress: 5 } } });

  it('is counted once in credence_http_rate_limited_total, as often as 429 is answered', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const res = await fetch(`${svc.url}/v1/entities`, { headers: { authorization: `Bearer junk-${i}` } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const metrics = await svc.service.context.metrics.render();
    expect(metrics).toMatch(/^credence_http_refused_total\{status="429",route="\/v1\/entities"\} 10$/m);
    expect(metrics).toMatch(/^credence_http_rate_limited_total\{route="\/v1\/entities"\} 10$/m);
  });
});
