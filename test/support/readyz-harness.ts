import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createAccessControl } from '../../adapters/http/auth/access-control.ts';
import { serviceConfig } from '../../adapters/http/config.ts';
import type { App, ServiceContext } from '../../adapters/http/context.ts';
import { createServiceMetrics } from '../../adapters/http/metrics.ts';
import { buildProbeServer } from '../../adapters/http/probe-server.ts';
import { buildServer } from '../../adapters/http/server.ts';
import { EmbeddedSecureEnvironment, FakeClock, openAccessRegistry, openCredence, systemRandom, type LiveRuntime } from '../../adapters/runtime/index.ts';
import type { CredenceError } from '../../domain/errors.ts';
import { ownerView } from '../../domain/ports/index.ts';

/**
 * A service's two listeners (the API's port, with a probe port configured, and the probe port) over one context whose
 * readiness inputs a test sets: the projections' lag, access.db failing, the Secure Environment's check.
 */
export interface ReadyzHarness {
  readonly api: string;
  readonly probes: string;
  /** The projections' lag, events behind (also seconds behind). */
  lag: number;
  /** Thrown by access.db's readiness read, while set. */
  accessFails: Error | undefined;
  /** What the Secure Environment's readiness check answers. */
  seUnavailable: CredenceError | undefined;
  /** The lines both listeners logged. */
  readonly lines: string[];
  close(): Promise<void>;
}

export const startReadyzHarness = async (limits: { readonly readyMaxLagEvents?: number } = {}): Promise<ReadyzHarness> => {
  const clock = new FakeClock('2026-01-01T00:00:00.000Z');
  const credence = openCredence({ location: { memory: true }, clock });
  const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: systemRandom });
  const registry = openAccessRegistry({ memory: true });
  const config = serviceConfig({ logLevel: 'info', port: 0, probePort: 0, limits: { readyMaxLagEvents: limits.readyMaxLagEvents ?? 10 } });
  const realAccess = await createAccessControl({ se: ownerView(se, 'credence:access'), registry, clock, random: systemRandom, ...config.tokens });
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  const harness = { lag: 0, accessFails: undefined as Error | undefined, seUnavailable: undefined as CredenceError | undefined };
  const access = new Proxy(realAccess, {
    get: (target, name) =>
      name === 'checkReadable'
        ? () => {
            if (harness.accessFails !== undefined) throw harness.accessFails;
            target.checkReadable();
          }
        : Reflect.get(target, name),
  });
  const live: LiveRuntime = {
    start: async () => {},
    stop: async () => {},
    status: async () => [],
    lag: () => ({ eventsBehind: harness.lag, secondsBehind: harness.lag }),
    caughtUp: async () => true,
  };
  const context: ServiceContext = {
    credence,
    live,
    access,
    metrics: createServiceMetrics(),
    limits: config.limits,
    shutdown: new AbortController().signal,
    secureEnvironmentUnavailable: async () => harness.seUnavailable,
  };
  const api: App = await buildServer({ context, config, logStream });
  const probes: App = await buildProbeServer({ context, config, logStream });
  await api.listen({ host: '127.0.0.1', port: 0 });
  await probes.listen({ host: '127.0.0.1', port: 0 });
  const urlOf = (app: App): string => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return Object.assign(harness, {
    api: urlOf(api),
    probes: urlOf(probes),
    lines,
    close: async () => {
      await api.close();
      await probes.close();
      await credence.close();
      registry.close();
      se.close();
    },
  });
};
