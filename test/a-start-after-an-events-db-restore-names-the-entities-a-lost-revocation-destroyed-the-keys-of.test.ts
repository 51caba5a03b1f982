/**
 * Review 131: an `events.db` restored from a backup older than a revocation (README, "Restoring the event store from a
 * backup") brings the revoked credential and its association back live in the log, while `keys.db`, kept, says their
 * keys were destroyed; only the certificates on a CRL were warned of. The start now names each entity the log says is
 * live whose own keys were destroyed, to be revoked again; a start whose log holds the revocation names none.
 * Review 137: checked at every start until one finds none on the log the read models follow (not only when a start
 * rebuilt them from 0): a local `credence query` run first, or a start after one that named them, names them still;
 * once the revocations are redone, one start finds none and the next skips the pass over keys.db.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { entityRow } from '../projections/entities/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { associatedMeters } from './support/associated-meter.ts';
import { operator } from './support/fleet.ts';
import { shredded } from './support/key-held.ts';
import { copyEventStore, moveTransparencyLogAside } from './support/restored-folder.ts';
import { startTestService, type TestService } from './support/service.ts';

const RESTORE_WARNING = /its key was destroyed after the events\.db backup: revoke it again/;

/** How many times a start read keys.db against the log. */
const checks = { count: 0 };
vi.mock('../adapters/runtime/keys-destroyed-of-live-entities.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../adapters/runtime/keys-destroyed-of-live-entities.ts')>();
  return {
    ...actual,
    keysDestroyedOfLiveEntities: (...args: Parameters<typeof actual.keysDestroyedOfLiveEntities>) => {
      checks.count += 1;
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

/** The warnings of one start naming an entity whose keys were destroyed, by stream. */
const keyWarnings = (service: TestService): Map<string, string> => {
  const named = new Map<string, string>();
  for (const line of service.logs()) {
    const entry = JSON.parse(line) as { level: number; stream?: string; keysDestroyedAt?: string; msg: string };
    if (entry.level === 40 && entry.keysDestroyedAt !== undefined && entry.stream !== undefined) named.set(entry.stream, entry.msg);
  }
  return named;
};

/** Waits (the cascade revokes the association from the credential's revocation) until the log says these ended. */
const revoked = async (service: TestService, streams: readonly string[]): Promise<void> => {
  const { readModels } = service.service.context.credence;
  for (let round = 0; round < 200; round++) {
    if (streams.every((s) => entityRow(readModels, s)?.state === 'revoked')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${streams.join(', ')} were never revoked`);
};

const BOTH = ['association-meter-1-sa', 'credential-meter-1-svc'];

/**
 * A data folder whose `events.db` was restored (README steps 1 to 4) from a backup taken before the credential of
 * meter-1 was revoked, and the cascade its association: keys.db, kept, holds both their keys as destroyed. The
 * folder, the service stopped.
 */
const restoredFromBeforeARevocation = async (): Promise<string> => {
  const root = mkdtempSync(join(tmpdir(), 'credence-keys-destroyed-since-backup-'));
  dirs.push(root);
  const dir = join(root, 'data');
  const backup = join(root, 'backup');
  const beforeRestore = join(root, 'data.before-restore');
  for (const d of [dir, backup, beforeRestore]) mkdirSync(d);

  // A meter with a PSK service credential and an association established over it: keys.db binds the PSK copy and
  // the session keys.
  let service = await startTestService({ dir });
  await associatedMeters(service, devices, ['meter-1']);
  await service.close();
  // A start whose check finds none records the entities checkpoint: an event the backup, taken after it, holds at its
  // position. The restore must make the check owed again all the same.
  service = await startTestService({ dir });
  expect(keyWarnings(service)).toEqual(new Map());
  await service.close();

  // The backup, taken of the stopped service; then the credential revoked, and the cascade revokes the association.
  copyEventStore(dir, backup);
  service = await startTestService({ dir });
  await service.service.context.credence.engine.execute({
    type: 'revokeCredential', data: { credentialId: 'meter-1-svc', reason: 'keyCompromise' }, metadata: { actor: operator },
  });
  await shredded(service, ['credential-meter-1-svc', 'association-meter-1-sa']);
  await service.close();

  // A start whose log holds the revocation names nothing.
  service = await startTestService({ dir });
  expect(keyWarnings(service)).toEqual(new Map());
  await service.close();

  // README steps 1 to 4: events.db moved aside and the backup put in place, the replay checkpoint deleted, the
  // transparency log moved aside.
  for (const name of ['events.db', 'events.db-wal', 'events.db-shm']) {
    if (existsSync(join(dir, name))) renameSync(join(dir, name), join(beforeRestore, name));
  }
  copyEventStore(backup, dir);
  rmSync(join(dir, 'replay-checkpoint.json'), { force: true });
  moveTransparencyLogAside(dir, beforeRestore);
  return dir;
};

describe('a start on an events.db restored from before a revocation', () => {
  it('names each credential and association the log says is live whose keys were destroyed, with the command to revoke it again', async () => {
    const dir = await restoredFromBeforeARevocation();
    const service = await startTestService({ dir });
    try {
      const named = keyWarnings(service);
      expect([...named.keys()].sort()).toEqual(['association-meter-1-sa', 'credential-meter-1-svc']);
      expect(named.get('association-meter-1-sa')).toMatch(RESTORE_WARNING);
      expect(named.get('association-meter-1-sa')).toContain('credence association revoke meter-1-sa');
      expect(named.get('credential-meter-1-svc')).toContain('credence credential revoke meter-1-svc');
      // Never a key handle.
      for (const msg of named.values()) expect(msg).not.toMatch(/key_[A-Za-z0-9]/);
    } finally {
      await service.close();
    }
  }, 60_000);

  it('names them after a local query caught the read models up from the restored log first (README step 6)', async () => {
    const dir = await restoredFromBeforeARevocation();
    const query = capture();
    expect(await main(['query', 'revocations', '--data', dir], query.io)).toBe(0);

    const service = await startTestService({ dir });
    try {
      expect([...keyWarnings(service).keys()].sort()).toEqual(BOTH);
    } finally {
      await service.close();
    }
  }, 60_000);

  it('names them at every start until they are revoked again; then one start finds none and the next reads keys.db no more', async () => {
    const dir = await restoredFromBeforeARevocation();
    let service = await startTestService({ dir });
    expect([...keyWarnings(service).keys()].sort()).toEqual(BOTH);
    await service.close();

    // Nothing redone yet: the next start says so again.
    service = await startTestService({ dir });
    expect([...keyWarnings(service).keys()].sort()).toEqual(BOTH);

    // README step 6: the credential revoked again; the cascade revokes its association again.
    await service.service.context.credence.engine.execute({
      type: 'revokeCredential', data: { credentialId: 'meter-1-svc', reason: 'keyCompromise' }, metadata: { actor: operator },
    });
    await revoked(service, BOTH);
    await service.close();

    checks.count = 0;
    service = await startTestService({ dir });
    expect([keyWarnings(service), checks.count]).toEqual([new Map(), 1]);
    await service.close();

    // The same log, only moved forward since that clean check: one record read, keys.db not read.
    service = await startTestService({ dir });
    try {
      expect([keyWarnings(service), checks.count]).toEqual([new Map(), 1]);
    } finally {
      await service.close();
    }
  }, 90_000);
});
