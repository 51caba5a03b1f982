/**
 * Review 202 finding 1: a file under devices/ whose mode cannot be changed (an immutable file, `chattr +i`; a vfat,
 * exFAT or CIFS mount) made every command that takes the data folder's lock fail with a bare `EPERM: operation not
 * permitted, fchmod`, naming no path. As the lock refuses files of another account, it now refuses naming every such
 * file with its mode and what to do, and lets go of the folder. Proved with `chattr +i` (root on ext4); skipped where
 * that is not possible.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/driven/files/data-folder-lock.ts';
import { isCredenceError } from '../domain/errors.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-unchangeable-mode-');

const chattr = (flag: '+i' | '-i', path: string): boolean => {
  try {
    execFileSync('chattr', [flag, path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const canMakeImmutable = process.platform === 'linux' && process.geteuid?.() === 0;

const immutable: string[] = [];
afterEach(() => {
  // Before the folder is removed: an immutable file cannot be.
  for (const path of immutable.splice(0)) chattr('-i', path);
});

describe.skipIf(!canMakeImmutable)('a data folder holding a file under devices/ whose mode cannot be changed', () => {
  it('is refused naming every such file, its mode and what to do, and the folder is let go', (context) => {
    const data = join(folder(), 'data');
    const device = join(data, 'devices', 'meter-1');
    mkdirSync(device, { recursive: true });
    const files = ['secure-environment.kek', 'device.json'].map((name) => join(device, name));
    for (const file of files) {
      writeFileSync(file, 'restored\n');
      chmodSync(file, 0o644);
      if (!chattr('+i', file)) return context.skip();
      immutable.push(file);
    }
    let refusal: unknown;
    try {
      lockDataFolder(data).release();
    } catch (error) {
      refusal = error;
    }
    expect(isCredenceError(refusal, 'validation')).toBe(true);
    const message = (refusal as Error).message;
    for (const file of files) expect(message).toContain(`${file} (mode 644)`);
    expect(message).toContain('chmod 600');
    expect(message).toContain('move');
    // The rest was made private meanwhile, as it should be: said, not left silently.
    expect((statSync(data).mode & 0o777).toString(8)).toBe('700');
    expect(message).toContain('made private');

    // Let go: once the files are put right, the lock is taken.
    for (const file of immutable.splice(0)) chattr('-i', file);
    lockDataFolder(data).release();
    for (const file of files) expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
  });
});
