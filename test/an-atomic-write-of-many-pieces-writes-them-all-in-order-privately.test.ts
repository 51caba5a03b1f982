import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomicFrom } from '../adapters/driven/files/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 447: a file too large for one string (the replay checkpoint) is written from the pieces an iterable yields,
 * through a descriptor in bounded writes, with writeFileAtomic's guarantees: a private temp file renamed over the old.
 */
describe('an atomic write of many pieces', () => {
  const folder = temporaryFolders('credence-atomic-pieces-');

  it('writes every piece in order (strings as UTF-8, bytes as they are, small and past the staging size), mode 0600, no temp left', () => {
    const dir = folder();
    const path = join(dir, 'file');
    writeFileSync(path, 'old');
    const pieces: (string | Uint8Array)[] = [];
    for (let i = 0; i < 5_000; i++) pieces.push(`line ${i} é€😀\n`);
    pieces.push('x'.repeat(3 * 1024 * 1024), Buffer.from('bytes\n'), Buffer.alloc(2 * 1024 * 1024, 0x61), 'é'.repeat(400_000), '\n');
    writeFileAtomicFrom(path, pieces);
    const expected = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    expect(readFileSync(path).equals(expected)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('leaves the old file and no temp when the pieces fail part way', () => {
    const dir = folder();
    const path = join(dir, 'file');
    writeFileSync(path, 'old');
    function* failing(): Generator<string> {
      yield 'a'.repeat(2 * 1024 * 1024);
      throw new RangeError('no more');
    }
    expect(() => writeFileAtomicFrom(path, failing())).toThrow('no more');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['file']);
  });
});
