/**
 * What a refused command undoes of the data folder's lock (`DataFolderLock.discard`, used by serve, start and ca
 * init): a folder the lock made goes again, with the folders made above it while nothing else is in them; a folder
 * that existed stays as it was, and a lock released as usual keeps the folder it made.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('keeps a folder inside it that another service has locked since, with what it holds', () => {
    const root = scratch();
    const data = join(root, 'x');
    const lock = lockDataFolder(data);
    writeFileSync(join(data, 'events.db'), '');
    const nested = lockDataFolder(join(data, 'deeper', 'y'));
    writeFileSync(join(data, 'deeper', 'y', 'events.db'), 'theirs');
    lock.discard();
    expect(readdirSync(data)).toEqual(['deeper']);
    expect(readFileSync(join(data, 'deeper', 'y', 'events.db'), 'utf8')).toBe('theirs');
    expect(readdirSync(join(data, 'deeper', 'y')).sort()).toEqual(['events.db', 'service-lock.db', 'service.lock']);
    nested.release();
  });

  it('keeps a device folder inside it, and removes a link in it without following it', () => {
    const root = scratch();
    const data = join(root, 'x');
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'kept.txt'), 'mine');
    const lock = lockDataFolder(data);
    mkdirSync(join(data, 'device'));
    writeFileSync(join(data, 'device', 'device-lock.db'), '');
    symlinkSync(outside, join(data, 'link'));
    lock.discard();
    expect(readdirSync(data)).toEqual(['device']);
    expect(readdirSync(outside)).toEqual(['kept.txt']);
  });

  it('removes nothing through a link put in place of the folder it made', () => {
    const root = scratch();
    const data = join(root, 'x');
    const victim = join(root, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'precious'), 'mine');
    const lock = lockDataFolder(data);
    renameSync(data, join(root, 'moved'));
    symlinkSync(victim, data);
    lock.discard();
    expect(readdirSync(victim)).toEqual(['precious']);
    // Let go all the same: the folder it made (moved) can be locked again.
    lockDataFolder(join(root, 'moved')).release();
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
