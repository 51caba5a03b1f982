/**
 * What a refused command undoes of the data folder's lock (`DataFolderLock.discard`, used by serve, start and ca
 * init): a folder the lock made goes again, with the folders made above it while nothing else is in them; a folder
 * that existed stays as it was, and a lock released as usual keeps the folder it made.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/runtime/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-discard-');

describe('discarding the data folder lock', () => {
  it('removes the folder it made and the empty folders made above it', () => {
    const root = scratch();
    const data = join(root, 'a', 'b', 'data');
    const lock = lockDataFolder(data);
    writeFileSync(join(data, 'events.db'), '');
    lock.discard();
    expect(readdirSync(root)).toEqual([]);
  });

  it('keeps a folder made above it that another process has since put a folder of its own in', () => {
    const root = scratch();
    const data = join(root, 'a', 'data');
    const lock = lockDataFolder(data);
    mkdirSync(join(root, 'a', 'other'));
    lock.discard();
    expect(existsSync(data)).toBe(false);
    expect(readdirSync(join(root, 'a'))).toEqual(['other']);
  });

  it('leaves a folder that existed, with what it held', () => {
    const data = scratch();
    writeFileSync(join(data, 'kept.txt'), 'mine');
    const lock = lockDataFolder(data);
    lock.discard();
    expect(readdirSync(data)).toContain('kept.txt');
    // Let go: the folder can be locked again at once.
    lockDataFolder(data).release();
  });

  it('keeps the folder it made once released, and a discard after that changes nothing', () => {
    const data = join(scratch(), 'data');
    const lock = lockDataFolder(data);
    lock.release();
    lock.discard();
    expect(existsSync(data)).toBe(true);
  });

  it('lets go of the folder it removed: the same path can be made and locked again', () => {
    const data = join(scratch(), 'data');
    lockDataFolder(data).discard();
    const again = lockDataFolder(data);
    expect(existsSync(data)).toBe(true);
    again.release();
  });
});
