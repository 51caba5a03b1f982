import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../adapters/driven/files/index.ts';
import { tempDirs } from './transparency-fixtures.ts';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const errorOf = (run: () => void): NodeJS.ErrnoException => {
  try {
    run();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected an error');
};

describe('writeFileAtomic', () => {
  it('writes the whole content with mode 0600 by default and leaves no temp file behind', () => {
    const dir = dirs.make();
    const path = join(dir, 'state.key');
    writeFileAtomic(path, 'first line\nsecond line\n');
    expect(readFileSync(path, 'utf8')).toBe('first line\nsecond line\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.key']);
  });

  it('writes bytes as given and applies the mode asked for, whatever the umask', () => {
    const dir = dirs.make();
    const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
    writeFileAtomic(join(dir, 'blob'), bytes, { mode: 0o644 });
    expect(Buffer.compare(readFileSync(join(dir, 'blob')), bytes)).toBe(0);
    expect(statSync(join(dir, 'blob')).mode & 0o777).toBe(0o644);
    expect(bytes[250]).toBe(250); // the caller's bytes are the caller's: not wiped
  });

  it('replaces an existing file whole, with the new mode', () => {
    const dir = dirs.make();
    const path = join(dir, 'transparency.pub');
    writeFileSync(path, 'an old, much longer public key line that must not leave a tail\n', { mode: 0o666 });
    chmodSync(path, 0o666);
    writeFileAtomic(path, 'new\n', { mode: 0o644 });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['transparency.pub']);
  });

  it('exclusive refuses an existing target with EEXIST, leaves it untouched and leaves no temp file', () => {
    const dir = dirs.make();
    const path = join(dir, 'transparency.key');
    writeFileAtomic(path, 'the first key\n', { exclusive: true });
    expect(errorOf(() => writeFileAtomic(path, 'a second key\n', { exclusive: true })).code).toBe('EEXIST');
    expect(readFileSync(path, 'utf8')).toBe('the first key\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).nlink).toBe(1); // the temp name that linked it is gone
    expect(readdirSync(dir)).toEqual(['transparency.key']);
  });

  it('a failed write leaves the target as it was and no temp file', () => {
    const dir = dirs.make();
    const occupied = join(dir, 'occupied');
    mkdirSync(join(occupied, 'child'), { recursive: true }); // a non-empty folder cannot be renamed over
    const error = errorOf(() => writeFileAtomic(occupied, 'x'));
    expect(['EISDIR', 'ENOTEMPTY', 'EEXIST', 'EPERM']).toContain(error.code);
    expect(readdirSync(dir)).toEqual(['occupied']);
    expect(readdirSync(occupied)).toEqual(['child']);
  });

  it('fails without creating anything in a folder that does not exist', () => {
    const dir = dirs.make();
    expect(errorOf(() => writeFileAtomic(join(dir, 'missing', 'state'), 'x')).code).toBe('ENOENT');
    expect(readdirSync(dir)).toEqual([]);
  });
});
