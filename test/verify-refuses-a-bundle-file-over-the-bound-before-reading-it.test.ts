import { execFileSync, spawn } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

/*
 * Review 296 item 4b: a regular bundle file over the bound was read up to the bound before it was refused (a 70 MB
 * bundle: 64 MiB read, some 230 MB of memory, for a refusal its size alone decides). A regular file is now measured
 * first (fstat) and refused at once, with the same refusal (the file, its size, the bound, the option that reads it);
 * a FIFO or other file with no size to trust is still read within the bound.
 */
const read = vi.hoisted(() => ({ bytes: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readSync = ((...args: Parameters<typeof fs.readSync>) => {
    const n = (fs.readSync as (...a: unknown[]) => number)(...args);
    read.bytes += n;
    return n;
  }) as typeof fs.readSync;
  return { ...fs, default: { ...fs, readSync }, readSync };
});

const { run: verifyCommand } = await import('../bin/commands/verify.ts');
const { readTextFile } = await import('../adapters/runtime/bounded-files.ts');
const { formatVerifierKey } = await import('../domain/transparency/index.ts');
const { capture } = await import('./support/cli.ts');
const { fixedSigner, keyOf, tempDirs } = await import('./transparency-fixtures.ts');

const dirs = tempDirs();
afterEach(() => dirs.cleanup());
const MIB = 1024 * 1024;
const KEY = formatVerifierKey(keyOf(fixedSigner(1)));

describe('credence verify FILE.json over the bound', () => {
  it('refuses a 70 MB regular file naming its size, the bound and --max-bundle-mib, having read none of it', async () => {
    const file = join(dirs.make(), 'big.json');
    writeFileSync(file, '');
    truncateSync(file, 70 * 1000 * 1000);
    read.bytes = 0;
    const c = capture();
    expect(await verifyCommand([file, '--key', KEY], c.io)).toBe(2);
    const err = c.err.join('\n');
    expect(err).toContain(`${file} is ${70 * 1000 * 1000} bytes, more than the 64 MiB of a bundle credence verify reads by default: give --max-bundle-mib ${Math.ceil((70 * 1000 * 1000) / MIB)} to read it`);
    expect(read.bytes).toBe(0);
  });

  it('still reads a regular file within the bound, and refuses one a byte over it unread', () => {
    const file = join(dirs.make(), 'small.txt');
    writeFileSync(file, 'x'.repeat(100));
    read.bytes = 0;
    expect(readTextFile(file, 100)).toEqual({ ok: true, value: 'x'.repeat(100) });
    expect(read.bytes).toBe(100);
    read.bytes = 0;
    expect(readTextFile(file, 99)).toEqual({ ok: false, kind: 'too_large', message: `${file} is larger than 99 bytes` });
    expect(read.bytes).toBe(0);
  });

  it.skipIf(process.platform === 'win32')('reads a FIFO, which has no size to trust, within the bound and refuses it past the bound', async () => {
    const fifo = join(dirs.make(), 'bundle.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `head -c 300 /dev/zero | tr '\\0' x > '${fifo}'`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => writer.on('exit', resolve));
    read.bytes = 0;
    expect(readTextFile(fifo, 100)).toEqual({ ok: false, kind: 'too_large', message: `${fifo} is larger than 100 bytes` });
    expect(read.bytes).toBe(101);
    await exited;
  });
});
