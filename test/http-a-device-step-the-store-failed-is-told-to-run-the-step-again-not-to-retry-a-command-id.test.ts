import { describe, expect, it } from 'vitest';
import { GroupCommitError } from '../adapters/driven/store/sqlite/commit-errors.ts';
import { EventStoreDbError } from '../adapters/driven/store/eventstoredb/driver.ts';
import type { RouteModule } from '../adapters/http/context.ts';
import { secureEnvironmentUnavailable, storeUnavailable } from '../domain/errors.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 202: a device's protocol step (the Enrolment Function's and the Registrar CSE's routes) that met an
 * unavailable store was told to "retry it with the commandId it was sent with", and a busy store "retry the command
 * with the same command id": a device sends no command id (the service builds the commands it records). It is told to
 * run its step again after Retry-After; a command keeps its advice. Tried on routes under the device routes' prefixes.
 */
const FAULTS = {
  unreachable: () =>
    new EventStoreDbError('EventStoreDB append failed: esdb-1.internal:2113 did not answer within 10 s', true, { unreachable: true, unavailable: { reason: 'timeout', limitMs: 10_000 } }),
  commit: () => new GroupCommitError(new Error('disk I/O error')),
  busy: () => storeUnavailable('busy', 'SQLITE_BUSY: database is locked'),
  token: () => secureEnvironmentUnavailable('token_unavailable', 'the PKCS#11 token labelled fleet-hsm is gone'),
} as const;

const failing: RouteModule = (app) => {
  for (const [name, fault] of Object.entries(FAULTS)) {
    app.post(`/v1/enrolment/test-${name}`, { config: { access: 'public' } }, async () => {
      throw fault();
    });
    app.post(`/v1/registrar/associations/:associationId/test-${name}`, { config: { access: 'public' } }, async () => {
      throw fault();
    });
    app.post(`/test/command-${name}`, { config: { access: 'public' } }, async () => {
      throw fault();
    });
  }
};

const svc = useTestService({ routes: [failing] });

const detailOf = async (path: string): Promise<string> => {
  const answer = await fetch(`${svc.url}${path}`, { method: 'POST' });
  expect(answer.status).toBe(503);
  expect(answer.headers.get('retry-after')).not.toBeNull();
  return ((await answer.json()) as { detail: string }).detail;
};

describe("a 503 to a device's protocol step", () => {
  it.each(Object.keys(FAULTS))('(%s) tells it to run the step again, naming no command id', async (name) => {
    for (const path of [`/v1/enrolment/test-${name}`, `/v1/registrar/associations/sa-1/test-${name}`]) {
      const detail = await detailOf(path);
      expect(detail).toMatch(/run the device's (step|provisioning or association) again/);
      expect(detail).not.toMatch(/command ?id/i);
      expect(detail).not.toContain('esdb-1.internal');
      expect(detail).not.toContain('SQLITE_BUSY');
      expect(detail).not.toContain('fleet-hsm');
    }
  });

  it.each(Object.keys(FAULTS))('(%s) to a command still advises its command id', async (name) => {
    expect(await detailOf(`/test/command-${name}`)).toMatch(/command ?id/i);
  });
});
