import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';

/*
 * Found in review: a wrapping-key file left readable by others by a copy or a restore stayed so at every open (it is
 * as secret as the KEK: a copy revives destroyed keys), and a missing KEK beside a key database that holds keys was
 * replaced by a new one, which opened none of them, with a message that did not say the KEK had been missing.
 */
const now = () => new Date('2026-12-01T00:00:00.000Z');
const dirs: string[] = [];
const folder = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-se-files-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const mode = (path: string): number => statSync(path).mode & 0o777;

describe('the embedded Secure Environment of a data folder', () => {
  it('makes a wrapping-key file left readable by others private again', async () => {
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now });
    await se.generate('owner', 'psk256');
    se.close();
    const wrapping = join(dir, 'secure-environment.wrapping-keys');
    chmodSync(wrapping, 0o644);
    openDataFolderSecureEnvironment(dir, { now }).close();
    expect(mode(wrapping)).toBe(0o600);
  });

  it('refuses to start, naming the file, when the KEK of a key database that holds keys is missing, and makes none', async () => {
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now });
    await se.generate('owner', 'ed25519');
    se.close();
    const kek = join(dir, 'secure-environment.kek');
    unlinkSync(kek);
    let refused: unknown;
    try {
      openDataFolderSecureEnvironment(dir, { now });
    } catch (error) {
      refused = error;
    }
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect((refused as Error).message).toMatch(/the KEK file .*secure-environment\.kek is missing beside the key database .*: restore it from a backup/);
    expect(existsSync(kek)).toBe(false);
  });

  it('makes a KEK for a folder that holds no keys yet', () => {
    const dir = folder();
    openDataFolderSecureEnvironment(dir, { now }).close();
    expect(existsSync(join(dir, 'secure-environment.kek'))).toBe(true);
  });
});
