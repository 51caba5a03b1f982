/**
 * Found in review 177: a process that opened a folder's lock database just before its holder discarded it (unlinking
 * the file, or removing the folder the holder made) then took its exclusive transaction on the unlinked file and
 * held "the lock"; a third process made a new file at the path and locked that too: two holders. A lock is held only
 * on the file at its path: one taken on a file the path no longer names is let go and taken again.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { lockDataFolder, tryLockDataFolder, tryLockFolder } from '../adapters/driven/files/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/** Run once right after the next lock database is opened, before its exclusive transaction: the holder discards then. */
const afterOpen = vi.hoisted(() => ({
  then: undefined as (() => void) | undefined,
  always: undefined as (() => void) | undefined,
  /** Run once right before the next lock database is opened (after the try looked at its path). */
  before: undefined as (() => void) | undefined,
}));

vi.mock('better-sqlite3', async (original) => {
  const Real = ((await original()) as { default: new (...args: unknown[]) => object }).default;
  function Opened(...args: unknown[]): object {
    const before = afterOpen.before;
    afterOpen.before = undefined;
    before?.();
    const db = new Real(...args);
    const then = afterOpen.then;
    afterOpen.then = undefined;
    then?.();
    afterOpen.always?.();
    return db;
  }
  Object.setPrototypeOf(Opened, Real);
  Opened.prototype = Real.prototype;
  return { default: Opened };
});

const scratch = temporaryFolders('credence-discarded-lock-file-');

describe('a lock opened on a lock file its holder discards before the lock is taken', () => {
  it('in a folder that existed: is taken on the file now at the path, and a third process is refused', () => {
    const data = scratch();
    const holder = lockDataFolder(data);
    afterOpen.then = () => holder.discard();
    const second = tryLockDataFolder(data);
    expect(afterOpen.then).toBeUndefined(); // the holder did discard in between
    expect('lock' in second).toBe(true);
    const third = tryLockDataFolder(data);
    expect('heldBy' in third && third.heldBy?.pid).toBe(process.pid);
    expect(existsSync(join(data, 'service-lock.db'))).toBe(true);
    if ('lock' in second) second.lock.release();
  });

  it('in a folder its holder made and removes: the folder is made again and locked, and a third process is refused', () => {
    const data = join(scratch(), 'made');
    const holder = lockDataFolder(data);
    afterOpen.then = () => holder.discard();
    const second = tryLockDataFolder(data);
    expect(afterOpen.then).toBeUndefined();
    expect('lock' in second).toBe(true);
    expect(readdirSync(data)).toEqual(expect.arrayContaining(['service-lock.db', 'service.lock']));
    expect('heldBy' in tryLockDataFolder(data)).toBe(true);
    // Made by the second lock this time: its discard removes it.
    if ('lock' in second) second.lock.discard();
    expect(existsSync(data)).toBe(false);
  });

  // Review 180: the open itself failed untyped ("the directory does not exist") when the folder went just before it.
  it('in a folder its holder made and removes just before the open: the folder is made again and locked', () => {
    const data = join(scratch(), 'made');
    const holder = lockDataFolder(data);
    afterOpen.before = () => holder.discard();
    const second = tryLockDataFolder(data);
    expect(afterOpen.before).toBeUndefined();
    expect('lock' in second).toBe(true);
    expect('heldBy' in tryLockDataFolder(data)).toBe(true);
    if ('lock' in second) second.lock.discard();
    expect(existsSync(data)).toBe(false);
  });

  it('of a folder of its own (a device folder): is taken on the file now at the path', () => {
    const dir = join(scratch(), 'device');
    mkdirSync(dir, { mode: 0o700 });
    const files = { lockFile: 'device-lock.db', holderFile: 'device.lock' };
    const holder = tryLockFolder(dir, files);
    if (!('lock' in holder)) throw new Error('the first lock was refused');
    afterOpen.then = () => holder.lock.discard();
    const second = tryLockFolder(dir, files);
    expect('lock' in second).toBe(true);
    expect('heldBy' in tryLockFolder(dir, files)).toBe(true);
    if ('lock' in second) second.lock.release();
  });

  it('whose file is discarded at every try: is said to be in use after a few, never taken on a file discarded', () => {
    const data = scratch();
    let tries = 0;
    afterOpen.always = () => {
      tries += 1;
      rmSync(join(data, 'service-lock.db'));
    };
    try {
      expect(tryLockDataFolder(data)).toEqual({ heldBy: undefined });
    } finally {
      afterOpen.always = undefined;
    }
    expect(tries).toBe(5);
  });

  it('still locks, refuses a second, releases and discards as before when nothing happens in between', () => {
    const data = scratch();
    const first = lockDataFolder(data);
    expect('heldBy' in tryLockDataFolder(data)).toBe(true);
    first.discard();
    expect(readdirSync(data)).toEqual([]);
    lockDataFolder(data).release();
    expect(readdirSync(data)).toEqual(['service-lock.db']);
  });
});
