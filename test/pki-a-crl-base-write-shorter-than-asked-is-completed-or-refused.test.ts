/**
 * Found in review 464: writeJsonInTurns (the CRL base file) ignored how many bytes FileHandle.write took, one call per
 * slice and no retry; a short write left a gap and the file was still fsynced, renamed over the base and resolved: the
 * base then failed JSON.parse. It now writes until every byte is taken, and a write taking none is an error that
 * leaves the old file in place.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { writeJsonInTurns } from '../adapters/driven/pki/crl-base-write.ts';

/** Which write call (counted from 1 since `armed`) takes fewer bytes than it is given, and how many of them. */
const shortWrite = vi.hoisted(() => ({ call: 0, take: (_length: number): number => _length, calls: 0 }));

vi.mock('node:fs/promises', async (original) => {
  const fs = await original<typeof import('node:fs/promises')>();
  const open = (async (...args: Parameters<typeof fs.open>) => {
    const handle = await fs.open(...args);
    const write = async (data: string | Uint8Array, ...rest: unknown[]) => {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      const offset = typeof data === 'string' ? 0 : ((rest[0] as number | undefined) ?? 0);
      const length = typeof data === 'string' ? bytes.length : ((rest[1] as number | undefined) ?? bytes.length - offset);
      shortWrite.calls += 1;
      const taken = shortWrite.calls === shortWrite.call ? shortWrite.take(length) : length;
      if (taken === 0) return { bytesWritten: 0, buffer: data };
      const { bytesWritten } = await handle.write(bytes, offset, taken);
      return { bytesWritten, buffer: data };
    };
    return new Proxy(handle, {
      get: (target, key) => (key === 'write' ? write : typeof Reflect.get(target, key) === 'function' ? Reflect.get(target, key).bind(target) : Reflect.get(target, key)),
    });
  }) as typeof fs.open;
  return { ...fs, open, default: { ...fs, open } };
});

const dir = mkdtempSync(join(tmpdir(), 'credence-crl-base-short-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  shortWrite.call = 0;
  shortWrite.calls = 0;
});

/** Enough serials for several slices (16,384 a turn), so several write calls. */
const serials = Array.from({ length: 40_000 }, (_, i) => (i + 1).toString(16).padStart(16, '0'));
const head = { version: 1, caId: 'default', crlNumber: '7' };

describe('writeJsonInTurns (the CRL base file)', () => {
  it('writes every byte of a slice a write took only half of, and the file parses whole', async () => {
    const path = join(dir, 'short.json');
    for (const call of [1, 2, 4]) {
      shortWrite.calls = 0;
      shortWrite.call = call;
      shortWrite.take = (length) => Math.max(1, Math.floor(length / 2));
      await writeJsonInTurns(path, head, { serials, nextSerials: serials.slice(0, 100) });
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ ...head, serials, nextSerials: serials.slice(0, 100) });
    }
  });

  it('refuses a write that takes no byte, leaving the old file in place and no temp file', async () => {
    const path = join(dir, 'zero.json');
    const old = `${JSON.stringify({ ...head, serials: ['01'] })}\n`;
    writeFileSync(path, old);
    shortWrite.call = 2;
    shortWrite.take = () => 0;
    await expect(writeJsonInTurns(path, head, { serials })).rejects.toThrow(/no byte|wrote nothing|0 bytes/i);
    expect(readFileSync(path, 'utf8')).toBe(old);
    expect(readdirSync(dir).filter((name) => name !== 'zero.json' && name !== 'short.json')).toEqual([]);
    expect(existsSync(path)).toBe(true);
  });
});
