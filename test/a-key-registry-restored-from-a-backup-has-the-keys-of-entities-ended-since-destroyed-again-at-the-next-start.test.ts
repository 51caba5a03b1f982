/**
 * Review 198: the remedy for a damaged `keys.db` or `secure-environment.sqlite` is to put it back from a backup of the
 * data folder, beside the current `events.db`. The backup's key registry and Secure Environment files brought back the
 * session keys and the PSK copy of an association and a credential revoked (keyCompromise) after that backup, bound in
 * use and usable; the shredder's checkpoint in `readmodels.db` was past the revocation, so nothing destroyed them again.
 * Its mark is now kept in `keys.db` itself: the restored file brings back its older mark, and the next start goes again
 * over the endings since, destroys those keys and says so at warn (how many and why, no handle). A `keys.db` an earlier
 * version wrote has no mark: it is gone over from the start of the log, once.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { boundHandles } from '../adapters/driven/key-registry/bound-handles.ts';
import type { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { backedUpBeforeARevocation } from './support/backed-up-before-a-revocation.ts';
import { deriveFailsNotFound } from './support/derivation-from-a-destroyed-key.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { startTestService, type TestService } from './support/service.ts';

const OWNER = 'maf:infrastructure';
const CREDENTIAL = 'credential-meter-2-svc';
const ASSOCIATION = 'association-meter-2-sa';
/** The files the remedy puts back: the key registry and the embedded Secure Environment's two databases. */
const KEY_FILES = ['keys.db', 'secure-environment.sqlite', 'secure-environment.wrapping-keys'];

const dirs: string[] = [];
const devices: EmbeddedSecureEnvironment[] = [];
afterEach(() => {
  for (const se of devices.splice(0)) se.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const keyFilesOf = (dir: string): string[] => readdirSync(dir).filter((name) => KEY_FILES.some((file) => name.startsWith(file)));

/** Each of `files` of `from` (with its -wal, -shm or -journal, if any) in place of those of `to`, the service stopped. */
const putBack = (from: string, to: string, files: readonly string[]): void => {
  const of = (dir: string) => keyFilesOf(dir).filter((name) => files.some((file) => name.startsWith(file)));
  for (const name of of(to)) rmSync(join(to, name));
  for (const name of of(from)) copyFileSync(join(from, name), join(to, name));
};

/** The warnings of the service's starts that say keys were destroyed again. */
const destroyedAgain = (service: TestService): { keysDestroyedAgain: number; entities: number; msg: string }[] =>
  service
    .logs()
    .map((line) => JSON.parse(line) as { level: number; keysDestroyedAgain?: number; entities: number; msg: string })
    .filter((entry) => entry.level === 40 && entry.keysDestroyedAgain !== undefined) as { keysDestroyedAgain: number; entities: number; msg: string }[];

/**
 * A data folder with the PSK credentials of meter-1 and meter-2 and an association over each (keys.db binds their PSK
 * copies and session keys); meter-1's revoked, then the key files backed up (their mark at that revocation), then
 * meter-2's credential revoked (keyCompromise: the cascade revokes its association, the shredder destroys their keys),
 * then the backup's key files put back: the service stopped. Returns the folder and the keys meter-2's revocation
 * destroyed.
 */
const keyFilesRestoredFromBeforeARevocation = async (files: readonly string[] = KEY_FILES): Promise<{ dir: string; keys: KeyHandle[] }> => {
  const root = mkdtempSync(join(tmpdir(), 'credence-keys-shredded-again-'));
  dirs.push(root);
  const dir = join(root, 'data');
  const backup = join(root, 'backup');
  // The backup of the key files (their mark at meter-1's revocation), taken before meter-2's.
  const keys = await backedUpBeforeARevocation({ dir, backup, files: KEY_FILES }, devices);

  putBack(backup, dir, files);
  return { dir, keys };
};

describe('a key registry restored from a backup has the keys of entities ended since destroyed again at the next start', () => {
  it('given keys.db and the Secure Environment files put back from before a revocation, when the service starts, then the keys are destroyed again and it says how many and why', async () => {
    const { dir, keys } = await keyFilesRestoredFromBeforeARevocation();
    // The restore alone brings them back, usable.
    for (const key of keys) expect(await withDataFolderSe(dir, OWNER, (se) => isHeld(se, key))).toBe(true);
    expect(await deriveFailsNotFound(dir, keys[0]!)).toBe(false);

    const service = await startTestService({ dir });
    try {
      const { infrastructure } = await service.service.context.credence.security();
      expect(infrastructure.o.registry.live(CREDENTIAL)).toEqual([]);
      expect(infrastructure.o.registry.live(ASSOCIATION)).toEqual([]);
      const [warning, ...more] = destroyedAgain(service);
      expect(more).toEqual([]);
      expect(warning?.keysDestroyedAgain).toBe(keys.length);
      expect(warning?.entities).toBe(2);
      expect(warning?.msg).toMatch(/destroyed again: keys\.db held them in use though the event log ends their entity/);
      expect(warning?.msg).toContain('since the last one keys.db records (position');
      // Counts and positions only: no handle.
      for (const key of keys) expect(service.logs().join('\n')).not.toContain(key);
    } finally {
      await service.close();
    }
    // `credence key list` no longer shows them in use, so `key destroy --handle` would not refuse them.
    expect(boundHandles(dir, new Set(keys)).size).toBe(0);
    for (const key of keys) {
      expect(await withDataFolderSe(dir, OWNER, (se) => isHeld(se, key))).toBe(false);
      expect(await deriveFailsNotFound(dir, key)).toBe(true);
    }

    // The mark went on to the shredder's checkpoint: the next start has nothing to destroy again, and says nothing.
    const again = await startTestService({ dir });
    try {
      expect(destroyedAgain(again)).toEqual([]);
    } finally {
      await again.close();
    }
  }, 60_000);

  it('given keys.db alone put back, the Secure Environment left as it is (as a PKCS#11 token is: no restore of the folder brings its keys back), when the service starts, then the keys it held in use are marked destroyed and said', async () => {
    const { dir, keys } = await keyFilesRestoredFromBeforeARevocation(['keys.db']);
    expect(boundHandles(dir, new Set(keys)).size).toBe(keys.length);

    const service = await startTestService({ dir });
    try {
      const [warning] = destroyedAgain(service);
      expect(warning?.keysDestroyedAgain).toBe(keys.length);
    } finally {
      await service.close();
    }
    expect(boundHandles(dir, new Set(keys)).size).toBe(0);
    for (const key of keys) expect(await deriveFailsNotFound(dir, key)).toBe(true);
  }, 60_000);

  it('given a keys.db an earlier version wrote (no mark) put back from before a revocation, when the service starts, then the log is gone over from its start once and the keys are destroyed again', async () => {
    const { dir, keys } = await keyFilesRestoredFromBeforeARevocation();
    const db = new Database(join(dir, 'keys.db'));
    try {
      db.exec('DROP TABLE shredder_mark');
    } finally {
      db.close();
    }

    const service = await startTestService({ dir });
    try {
      const [warning] = destroyedAgain(service);
      // meter-1's keys, destroyed before the backup, are destroyed in the restored files too: not counted.
      expect(warning?.keysDestroyedAgain).toBe(keys.length);
      expect(warning?.entities).toBe(2);
      expect(warning?.msg).toContain('from the start of the log (keys.db records none: an earlier version wrote it, or its shredder had destroyed no key yet)');
    } finally {
      await service.close();
    }
    for (const key of keys) expect(await deriveFailsNotFound(dir, key)).toBe(true);
  }, 60_000);
});
