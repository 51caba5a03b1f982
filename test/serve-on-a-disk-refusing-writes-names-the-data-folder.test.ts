/**
 * Review 373 #3: `serve` and `start` on a full disk or a read-only data folder said SQLite's bare words (`error:
 * database or disk is full`, `error: disk I/O error`), naming no folder, where `token` and `export` name it
 * (bin/write-failure.ts, review 81). A file size limit (`ulimit -f`) stands in for the full disk: SQLite and Node are
 * refused the same way. (`start` names it in bin/commands/demo.ts.)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporaryFolders } from './support/temp-dirs.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'credence.mjs');
const scratch = temporaryFolders('credence-serve-refused-writes-');

/** `credence <args>` in bash under `ulimit -f <kib>` (bash counts in KiB). */
const limited = async (kib: number, args: readonly string[]): Promise<{ code: number | null; err: string }> => {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -f ${kib}; ${quoted}`], { env: { ...process.env, PORT: '', CREDENCE_DATA: '', CREDENCE_STORE: '' } });
  let err = '';
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, err };
};

describe('serve on a data folder whose writes the system refuses', () => {
  // 8 KiB: the Secure Environment's database cannot grow; 64 KiB: a later database of the folder.
  it.each([8, 64])('under ulimit -f %i: exit 1, one line naming the data folder and the code', async (kib) => {
    const data = join(scratch(), 'data');
    const run = await limited(kib, ['serve', '--data', data, '--port', '0']);
    expect(run.code, run.err).toBe(1);
    expect(run.err).not.toMatch(/^\s+at /m);
    expect(run.err.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: cannot write the data folder ${data} \\((EFBIG|SQLITE_FULL|SQLITE_IOERR\\w*)[):]`));
  }, 60_000);
});
