/**
 * Issue 12 review: the infrastructure behind the device routes was opened at the first device request, so the keys of
 * runs that died with the last process were swept then rather than at start, and a failed opening stayed cached
 * (every device request a 500 until a restart). The service opens it when it starts; a failed opening is retried.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { openCredence, openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { operator, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the device endpoints are opened when the service starts', () => {
  it('a pending key left by a run that died with the last process is swept at start, before any device request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-device-startup-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await (await startTestService({ dir })).close();

    // What a process dying between a handshake and its append leaves: a session key, registered pending.
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    const key = await se.generate('maf:infrastructure', 'psk256');
    se.close();
    const registry = SqliteKeyRegistry.open({ dir });
    registry.register('association-never', key, 'session', { pending: true });
    registry.close();

    const service: TestService = await startTestService({ dir });
    cleanups.push(() => service.close());
    const keys = service.service.context.credence.keyRegistry!;
    expect(keys.pending()).toEqual([]);
    expect(keys.live('association-never')).toEqual([]);
  }, 60_000);
});

describe('a failed opening of the security procedures is not kept', () => {
  it('the next call opens again, and calls after a success share it', async () => {
    const clock = new FakeClock(T0);
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: systemRandom });
    cleanups.push(() => se.close());
    const generate = se.generate.bind(se);
    let failures = 1;
    se.generate = ((...args: Parameters<typeof generate>) =>
      failures-- > 0 ? Promise.reject(new Error('the Secure Environment is busy')) : generate(...args)) as typeof se.generate;
    const credence = openCredence({ location: { memory: true }, clock, security: { se, random: systemRandom, actor: operator } });
    cleanups.push(() => credence.close());
    expect(credence.hasSecurity).toBe(true);

    await expect(credence.security()).rejects.toThrow('busy');
    const opened = credence.security();
    const { infrastructure, endpoints } = await opened;
    expect(infrastructure.enrolmentFunctionId).toBe('MEF-1');
    expect(await endpoints.enrolment.identity()).toEqual(await infrastructure.pinned('enrolment-function'));
    expect(credence.security()).toBe(opened);
  });
});
