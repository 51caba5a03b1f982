/**
 * Review 286 M1: `readmodels.db` is disposable, so an operator who restores `events.db` from a backup naturally puts
 * back the `readmodels.db` taken with it. That file holds the record of a clean check of keys.db against the log, with
 * its checkpoint matching the restored log: the start took the check as done, and a credential revoked since the
 * backup (keyCompromise) and its cascaded association came back live with nothing said. The record now names what
 * keys.db held destroyed when it was written, so keys.db's destructions since make the check owed again.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { associatedMeters } from './support/associated-meter.ts';
import { operator } from './support/fleet.ts';
import { shredded } from './support/key-held.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';

const RESTORE_WARNING = /its key was destroyed after the events\.db backup: revoke it again/;
const BOTH = ['association-meter-1-sa', 'credential-meter-1-svc'];
const READ_MODELS = ['readmodels.db', 'readmodels.db-wal', 'readmodels.db-shm'];

const dirs: string[] = [];
const devices: EmbeddedSecureEnvironment[] = [];
afterEach(() => {
  for (const se of devices.splice(0)) se.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The warnings of one start naming an entity whose keys were destroyed, by stream. */
const keyWarnings = (service: TestService): Map<string, string> => {
  const named = new Map<string, string>();
  for (const line of service.logs()) {
    const entry = JSON.parse(line) as { level: number; stream?: string; keysDestroyedAt?: string; msg: string };
    if (entry.level === 40 && entry.keysDestroyedAt !== undefined && entry.stream !== undefined) named.set(entry.stream, entry.msg);
  }
  return named;
};

/** `readmodels.db` of `from` (with its -wal and -shm, if any) in place of that of `to`, the services stopped. */
const copyReadModels = (from: string, to: string): void => {
  for (const name of READ_MODELS) rmSync(join(to, name), { force: true });
  for (const name of READ_MODELS) if (existsSync(join(from, name))) copyFileSync(join(from, name), join(to, name));
};

/**
 * A data folder whose `events.db` and `readmodels.db` were both restored from a backup taken, after a start whose
 * check of keys.db found nothing, before the credential of meter-1 was revoked and the cascade its association:
 * keys.db, kept, holds both their keys as destroyed. The folder, the service stopped.
 */
const restoredWithItsReadModelsFromBeforeARevocation = async (): Promise<string> => {
  const root = mkdtempSync(join(tmpdir(), 'credence-read-models-restored-too-'));
  dirs.push(root);
  const dir = join(root, 'data');
  const backup = join(root, 'backup');
  const beforeRestore = join(root, 'data.before-restore');
  for (const d of [dir, backup, beforeRestore]) mkdirSync(d);

  let service = await startTestService({ dir });
  await associatedMeters(service, devices, ['meter-1']);
  await service.close();
  // A start whose check finds none: readmodels.db records it clean, at a checkpoint the backup's log holds.
  service = await startTestService({ dir });
  expect(keyWarnings(service)).toEqual(new Map());
  await service.close();

  // The backup of the stopped service: events.db and readmodels.db. Then the credential revoked, and the cascade
  // revokes the association: keys.db holds their keys destroyed.
  copyEventStore(dir, backup);
  copyReadModels(dir, backup);
  service = await startTestService({ dir });
  await service.service.context.credence.engine.execute({
    type: 'revokeCredential', data: { credentialId: 'meter-1-svc', reason: 'keyCompromise' }, metadata: { actor: operator },
  });
  await shredded(service, BOTH);
  await service.close();

  // README steps 1 to 4, and readmodels.db put back from the same backup.
  for (const name of ['events.db', 'events.db-wal', 'events.db-shm', ...READ_MODELS]) {
    if (existsSync(join(dir, name))) renameSync(join(dir, name), join(beforeRestore, name));
  }
  copyEventStore(backup, dir);
  copyReadModels(backup, dir);
  rmSync(join(dir, 'replay-checkpoint.json'), { force: true });
  moveTransparencyLogAside(dir, beforeRestore);
  return dir;
};

describe('a start on an events.db and a readmodels.db restored together from before a revocation', () => {
  it('names the credential and the association whose keys keys.db holds destroyed, as after events.db alone', async () => {
    const dir = await restoredWithItsReadModelsFromBeforeARevocation();
    const service = await startTestService({ dir });
    try {
      const named = keyWarnings(service);
      expect([...named.keys()].sort()).toEqual(BOTH);
      expect(named.get('credential-meter-1-svc')).toMatch(RESTORE_WARNING);
      expect(named.get('credential-meter-1-svc')).toContain('credence credential revoke meter-1-svc');
      expect(named.get('association-meter-1-sa')).toContain('credence association revoke meter-1-sa');
    } finally {
      await service.close();
    }
  }, 60_000);
});
