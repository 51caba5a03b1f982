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
import type { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { associatedMeters } from './support/associated-meter.ts';
import { operator } from './support/fleet.ts';
import { shredded } from './support/key-held.ts';
import { startTestService } from './support/service.ts';

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
    await associatedMeters(service, devices, ['meter-1', 'meter-2'], { oneSecureEnvironment: true });
    const { engine } = service.service.context.credence;
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
