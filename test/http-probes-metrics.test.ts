import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessControl } from '../adapters/http/auth/access-control.ts';
import { serviceConfig } from '../adapters/http/config.ts';
import type { App, ServiceContext } from '../adapters/http/context.ts';
import { createServiceMetrics } from '../adapters/http/metrics.ts';
import { buildServer } from '../adapters/http/server.ts';
import {
  EmbeddedSecureEnvironment,
  FakeClock,
  openAccessRegistry,
  openCredence,
  systemRandom,
  type ComponentStatus,
  type LiveRuntime,
} from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { startTestService, type TestService } from './support/service.ts';

describe('probes and metrics of a running service', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('is live and ready: the store answers and the projections are caught up', async () => {
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', eventsBehind: 0 });
  });

  it('exposes Prometheus text: commands by type and outcome, latency, projection lag per component, SSE clients', async () => {
    const { metrics } = svc.service.context;
    metrics.commandDecided('revokeNode', 'accepted', 0.004);
    metrics.commandDecided('revokeNode', 'refused', 0.001);
    metrics.sseClientOpened('integrator');
    const response = await fetch(`${svc.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('credence_commands_total{type="revokeNode",outcome="accepted"} 1');
    expect(text).toContain('credence_commands_total{type="revokeNode",outcome="refused"} 1');
    expect(text).toMatch(/credence_command_duration_seconds_count\{type="revokeNode"\} 2/);
    expect(text).toMatch(/credence_projection_lag_events\{component="[^"]+"\} 0/);
    expect(text).toContain('credence_sse_clients{role="integrator"} 1');
    metrics.sseClientClosed('integrator', 'client');
  });
});

describe('/readyz refuses with 503 and Retry-After', () => {
  const clock = new FakeClock('2026-01-01T00:00:00.000Z');
  let app: App;
  let lagging = 0;
  let storeDown = false;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const credence = openCredence({ location: { memory: true }, clock });
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: systemRandom });
    const registry = openAccessRegistry({ memory: true });
    const config = serviceConfig({ logLevel: 'silent', limits: { readyMaxLagEvents: 10 } });
    const access = await createAccessControl({ se: ownerView(se, 'credence:access'), registry, clock, random: systemRandom, ...config.tokens });
    const status: ComponentStatus[] = [];
    const live: LiveRuntime = {
      start: async () => {},
      stop: async () => {},
      status: async () => status,
      lag: () => ({ eventsBehind: lagging, secondsBehind: lagging }),
      caughtUp: async () => true,
    };
    const headPosition = credence.store.headPosition.bind(credence.store);
    // The store as seen by the probe: down on demand.
    const store = new Proxy(credence.store, {
      get: (target, name) => (name === 'headPosition' ? () => (storeDown ? Promise.reject(new Error('connection refused')) : headPosition()) : Reflect.get(target, name)),
    });
    const context: ServiceContext = {
      credence: { ...credence, store },
      live,
      access,
      metrics: createServiceMetrics(),
      limits: config.limits,
      shutdown: new AbortController().signal,
    };
    app = await buildServer({ context, config });
    await app.listen({ host: '127.0.0.1', port: 0 });
    cleanup = async () => {
      await app.close();
      await credence.close();
      registry.close();
      se.close();
    };
  });
  afterAll(async () => {
    await cleanup?.();
  });

  const readyz = async () => {
    const address = app.server.address() as { port: number };
    return fetch(`http://127.0.0.1:${address.port}/readyz`);
  };

  it('when live projections lag beyond the bound', async () => {
    lagging = 50;
    const response = await readyz();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await response.json()).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'lag', eventsBehind: 50 });
    lagging = 0;
    expect((await readyz()).status).toBe(200);
  });

  it('when the store does not answer', async () => {
    storeDown = true;
    const response = await readyz();
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ check: 'store' });
    storeDown = false;
  });
});
