/**
 * Review 286 L1: the embedded Secure Environment's files (secure-environment.sqlite and its wrapping keys) put back
 * alone from a backup taken before a keyCompromise revocation, keys.db kept: the PSK copy and the session keys the
 * shredder destroyed since were held and usable again (an HKDF derivation from them succeeded), and the start said
 * nothing; keys.db holds them destroyed, so the shredder's pass (keys-shredded-again.ts) has nothing in use to go
 * over. The start now destroys again each key keys.db holds destroyed that the Secure Environment holds, and says
 * how many at warn, for its owner, with why: never a handle.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { backedUpBeforeARevocation } from './support/backed-up-before-a-revocation.ts';
import { deriveFailsNotFound } from './support/derivation-from-a-destroyed-key.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { startTestService, type TestService } from './support/service.ts';

const OWNER = 'maf:infrastructure';
/** The embedded Secure Environment's two databases: what is put back, keys.db left as it is. */
const SE_FILES = ['secure-environment.sqlite', 'secure-environment.wrapping-keys'];

const dirs: string[] = [];
const devices: EmbeddedSecureEnvironment[] = [];
afterEach(() => {
  for (const se of devices.splice(0)) se.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const seFilesOf = (dir: string): string[] => readdirSync(dir).filter((name) => SE_FILES.some((file) => name.startsWith(file)));

/** The warnings that say the Secure Environment's keys keys.db holds destroyed were destroyed again. */
const heldAgain = (service: TestService): { owner: string; keysDestroyedAgainInSecureEnvironment: number; msg: string }[] =>
  service
    .logs()
    .map((line) => JSON.parse(line) as { level: number; owner: string; keysDestroyedAgainInSecureEnvironment?: number; msg: string })
    .filter((entry) => entry.level === 40 && entry.keysDestroyedAgainInSecureEnvironment !== undefined) as {
    owner: string;
    keysDestroyedAgainInSecureEnvironment: number;
    msg: string;
  }[];

/**
 * A data folder with the PSK credentials of meter-1 and meter-2 and an association over each; meter-1's revoked, the
 * Secure Environment files backed up, meter-2's credential revoked (keyCompromise: the cascade revokes its
 * association, the shredder destroys their keys, keys.db holds them destroyed), then the backup's Secure Environment
 * files put back: the service stopped. Returns the folder and the keys meter-2's revocation destroyed.
 */
const secureEnvironmentRestoredFromBeforeARevocation = async (): Promise<{ dir: string; keys: KeyHandle[] }> => {
  const root = mkdtempSync(join(tmpdir(), 'credence-se-restored-alone-'));
  dirs.push(root);
  const dir = join(root, 'data');
  const backup = join(root, 'backup');
  // The backup of the Secure Environment files, taken before meter-2's revocation.
  const keys = await backedUpBeforeARevocation({ dir, backup, files: SE_FILES }, devices);

  for (const name of seFilesOf(dir)) rmSync(join(dir, name));
  for (const name of seFilesOf(backup)) copyFileSync(join(backup, name), join(dir, name));
  return { dir, keys };
};

describe('Secure Environment files restored from before a revocation', () => {
  it('given only the embedded Secure Environment put back, keys.db kept, when the service starts, then the keys keys.db holds destroyed are destroyed again and it says how many and why', async () => {
    const { dir, keys } = await secureEnvironmentRestoredFromBeforeARevocation();
    // The restore alone brings them back, usable.
    for (const key of keys) expect(await withDataFolderSe(dir, OWNER, (se) => isHeld(se, key))).toBe(true);
    expect(await deriveFailsNotFound(dir, keys[0]!)).toBe(false);

    const service = await startTestService({ dir });
    try {
      const [warning, ...more] = heldAgain(service);
      expect(more).toEqual([]);
      expect(warning?.owner).toBe(OWNER);
      expect(warning?.keysDestroyedAgainInSecureEnvironment).toBe(keys.length);
      expect(warning?.msg).toMatch(/keys\.db holds .* destroyed/);
      // Counts only: no handle.
      for (const key of keys) expect(service.logs().join('\n')).not.toContain(key);
    } finally {
      await service.close();
    }
    for (const key of keys) {
      expect(await withDataFolderSe(dir, OWNER, (se) => isHeld(se, key))).toBe(false);
      expect(await deriveFailsNotFound(dir, key)).toBe(true);
    }

    // Nothing left to destroy again: the next start says nothing.
    const again = await startTestService({ dir });
    try {
      expect(heldAgain(again)).toEqual([]);
    } finally {
      await again.close();
    }
  }, 60_000);
});
