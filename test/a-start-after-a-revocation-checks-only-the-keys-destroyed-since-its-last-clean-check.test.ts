/**
 * Review 286 made the check of keys.db against the log owed whenever keys.db holds other destroyed keys than when the
 * last clean check was recorded (a readmodels.db restored with events.db). The live shredder destroys keys as
 * entities end, so after any revocation the next start owes it: it reads only the keys destroyed since that record,
 * not every key ever destroyed (a read-model lookup each, which review 137 spared a start), and finds the revoked
 * entities ended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { Device } from '../adapters/protocols/procedures/index.ts';
import { systemRandom } from '../adapters/runtime/index.ts';
import { operator, profile } from './support/fleet.ts';
import { shredded } from './support/key-held.ts';
import { startTestService } from './support/service.ts';

const DAY = 86_400_000;

/** The instant each check read keys.db after (undefined: every key), one entry per check. */
const checks: (string | undefined)[] = [];
vi.mock('../adapters/runtime/keys-destroyed-of-live-entities.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/runtime/keys-destroyed-of-live-entities.ts')>();
  return {
    ...actual,
    keysDestroyedOfLiveEntities: (...args: Parameters<typeof actual.keysDestroyedOfLiveEntities>) => {
      checks.push(args[2]);
      return actual.keysDestroyedOfLiveEntities(...args);
    },
  };
});

const dirs: string[] = [];
const devices: EmbeddedSecureEnvironment[] = [];
afterEach(() => {
  for (const se of devices.splice(0)) se.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const warned = (logs: readonly string[]): string[] =>
  logs.map((line) => JSON.parse(line) as { level: number; stream?: string; keysDestroyedAt?: string }).filter((e) => e.level === 40 && e.keysDestroyedAt !== undefined).map((e) => e.stream!);

describe('a start after a revocation of the running service', () => {
  it('checks only the keys destroyed since its last clean check, finds none live, and the next start checks none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-keys-destroyed-since-check-'));
    dirs.push(dir);
    let service = await startTestService({ dir });
    const now = Date.now();
    const { procedures } = await service.service.context.credence.security();
    const { engine } = service.service.context.credence;
    await engine.execute({
      type: 'createSubscription',
      data: { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: new Date(now - DAY).toISOString(), notAfter: new Date(now + 365 * DAY).toISOString() },
      metadata: { actor: operator },
    });
    const se = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: systemRandom });
    devices.push(se);
    const validity = { notBefore: new Date(now - DAY).toISOString(), notAfter: new Date(now + 365 * DAY).toISOString() };
    for (const n of ['meter-1', 'meter-2']) {
      const device = new Device({ nodeId: n, se, now: () => new Date(), random: systemRandom });
      await procedures.preProvision({ device, profile, bootstrapCredentialId: `${n}-boot`, kind: 'ed25519', validity });
      await engine.execute({ type: 'enrolNode', data: { nodeId: n, subscriptionId: 'sub-1', cseId: `/${n}-cse` }, metadata: { actor: operator } });
      await procedures.provisionRemotely({ device, credentialId: `${n}-svc`, kind: 'psk256' });
      await procedures.associate({ device, associationId: `${n}-sa`, credentialId: `${n}-svc`, lifetimeSeconds: 86_400 });
    }
    // meter-1 revoked: its keys destroyed before the first clean check.
    await engine.execute({ type: 'revokeCredential', data: { credentialId: 'meter-1-svc', reason: 'keyCompromise' }, metadata: { actor: operator } });
    await shredded(service, ['credential-meter-1-svc', 'association-meter-1-sa']);
    await service.close();

    checks.length = 0;
    service = await startTestService({ dir });
    expect(warned(service.logs())).toEqual([]);
    // meter-2 revoked by the running service after that start's clean check.
    await service.service.context.credence.engine.execute({
      type: 'revokeCredential', data: { credentialId: 'meter-2-svc', reason: 'keyCompromise' }, metadata: { actor: operator },
    });
    await shredded(service, ['credential-meter-2-svc', 'association-meter-2-sa']);
    await service.close();
    expect(checks.length).toBe(1);
    expect(checks[0]).toBeUndefined();

    service = await startTestService({ dir });
    expect(warned(service.logs())).toEqual([]);
    await service.close();
    // Owed again (keys.db destroyed more), and of meter-2's keys only: after the instant the last record saw.
    expect(checks.length).toBe(2);
    expect(checks[1]).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    service = await startTestService({ dir });
    try {
      expect([warned(service.logs()), checks.length]).toEqual([[], 2]);
    } finally {
      await service.close();
    }
  }, 90_000);
});
