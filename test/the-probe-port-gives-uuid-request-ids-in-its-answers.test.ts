import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 330 item 4: the probe port numbered its requests req-1, req-2, … (Fastify's counter, starting over at each
 * restart, so two refusals' log lines shared an id across restarts) and sent no x-request-id header, its 404 included.
 * It takes ids as the API's port does (a caller's short id, else a UUID) and sends each in the header.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('the probe port', () => {
  const svc = useTestService({ config: { probePort: 0 } });

  it('sends a UUID request id, or the caller’s, in x-request-id on its answers and refusals', async () => {
    const probe = svc.service.probeUrl!;
    for (const path of ['/healthz', '/readyz', '/metrics', '/nothing-here']) {
      const res = await fetch(`${probe}${path}`);
      await res.arrayBuffer();
      expect(res.headers.get('x-request-id'), path).toMatch(UUID);
    }
    const given = await fetch(`${probe}/nothing-here`, { headers: { 'x-request-id': 'probe-42' } });
    const problem = (await given.json()) as { requestId?: string };
    expect(given.headers.get('x-request-id')).toBe('probe-42');
    expect(problem.requestId).toBe('probe-42');
  });
});
