import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 90 finding 1: with `probePort` set, the API's port still served the public /metrics, so a stranger sending
 * device hellos could read in the heap gauges which Node-IDs exist, and a scoped integrator the fleet-wide command
 * counts, while docs/service.md said a probe port made it not public. Once a probe port is set, /metrics is served
 * there only; /healthz and /readyz stay on both ports (load balancers probe the API's port).
 */
const PROBLEMS = 'https://credence.dev/problems/';

describe('a service with a probe port', () => {
  const svc = useTestService({ config: { probePort: 0 } });

  it('answers /metrics on the API port as a route it does not have (404 route_not_found)', async () => {
    const answer = await fetch(`${svc.url}/metrics`);
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
    const text = await answer.text();
    expect(JSON.parse(text)).toMatchObject({ type: `${PROBLEMS}route_not_found`, status: 404 });
    expect(text).not.toMatch(/credence_/);
  });

  it('answers /metrics with a token on the API port the same: it is no route there for anyone', async () => {
    const answer = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${svc.tokens.admin}` } });
    expect(answer.status).toBe(404);
    await answer.body?.cancel();
  });

  it('serves the metrics on the probe port', async () => {
    const answer = await fetch(`${svc.service.probeUrl!}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toContain('text/plain');
    expect(await answer.text()).toMatch(/^credence_nodejs_heap_size_used_bytes /m);
  });

  it('keeps /healthz and /readyz on both ports', async () => {
    for (const base of [svc.url, svc.service.probeUrl!]) {
      for (const path of ['/healthz', '/readyz']) {
        const answer = await fetch(`${base}${path}`);
        expect(answer.status, `${base}${path}`).toBe(200);
        await answer.body?.cancel();
      }
    }
  });

  it('does not declare /metrics in the API port\'s OpenAPI document', async () => {
    const document = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toContain('/healthz');
    expect(Object.keys(document.paths)).not.toContain('/metrics');
  });
});

describe('a service without a probe port', () => {
  const svc = useTestService();

  it('serves /metrics on the API port, its only port', async () => {
    const answer = await fetch(`${svc.url}/metrics`);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toMatch(/^credence_nodejs_heap_size_used_bytes /m);
    const document = (await (await fetch(`${svc.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toContain('/metrics');
  });
});
