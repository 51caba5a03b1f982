/**
 * Found in review 42: discarding a refused command's new folder checked a subfolder for a lock, then removed it. A
 * service that locked that subfolder in between lost its lock database and its folder, and a third process could then
 * lock the same folder while it still ran. Lock files below the folder are never removed now, and a subfolder that
 * is no longer empty when it is to be removed stays.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { lockDataFolder, tryLockDataFolder } from '../adapters/driven/files/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/** Called once the discard has listed the subfolder named: another process takes its lock then. */
const afterListing = vi.hoisted(() => ({ folder: undefined as string | undefined, then: undefined as (() => void) | undefined }));

vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const readdirSync = ((path: string, options?: unknown) => {
    const listed = fs.readdirSync(path, options as never);
    if (afterListing.folder !== undefined && path === afterListing.folder && afterListing.then !== undefined) {
      const then = afterListing.then;
      afterListing.then = undefined;
      then();
    }
    return listed;
  }) as typeof fs.readdirSync;
  return { ...fs, default: { ...fs, readdirSync }, readdirSync };
});

const scratch = temporaryFolders('credence-discard-race-');

describe('a lock taken in a subfolder while the folder around it is discarded', () => {
  it('keeps the subfolder with its lock, which still holds', () => {
    const data = join(scratch(), 'x');
    const nestedDir = join(data, 'y');
    const lock = lockDataFolder(data);
    // The subfolder exists (made, say, by the other process's mkdir) but holds no lock yet when it is looked at.
    let nested: ReturnType<typeof lockDataFolder> | undefined;
    mkdirSync(nestedDir, { mode: 0o700 });
    afterListing.folder = nestedDir;
    afterListing.then = () => {
      nested = lockDataFolder(nestedDir);
    };
    lock.discard();
    expect(nested).toBeDefined();
    expect(readdirSync(nestedDir)).toEqual(expect.arrayContaining(['service-lock.db', 'service.lock']));
    // Still held: a third process is refused.
    const third = tryLockDataFolder(nestedDir);
    expect('heldBy' in third).toBe(true);
    nested!.release();
    expect(existsSync(nestedDir)).toBe(true);
  });
});
