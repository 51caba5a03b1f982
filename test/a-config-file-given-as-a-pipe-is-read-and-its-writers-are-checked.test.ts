/**
 * Review 333 (low): `--config <(envsubst < credence.json)` (a pipe) was refused "is not a regular file" once the config
 * file was read as a trusted file (review 324 item 1), although the reader before took pipes on purpose and a token
 * file still does. A pipe is read again, waited for a bounded time, and held to who may write it as a token file's is.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { readConfigFile } from '../adapters/http/config-file.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-config-pipe-');

const privateFolder = (): string => {
  const dir = join(scratch(), 'private');
  mkdirSync(dir, { mode: 0o700 });
  return dir;
};

const refusal = (read: () => unknown) => {
  try {
    read();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues[0];
    throw error;
  }
  throw new Error('accepted');
};

describe.skipIf(process.platform === 'win32')('a config file given as a pipe', () => {
  it('is read when a writer writes it and closes it, as <(envsubst …) does', () => {
    const fifo = join(privateFolder(), 'credence.json');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const writer = spawn('sh', ['-c', `sleep 0.2; printf '%s' '{"port": 8123}' > '${fifo}'`], { stdio: 'ignore' });
    try {
      expect(loadServiceConfig({ file: fifo }).port).toBe(8123);
    } finally {
      writer.kill();
    }
  });

  it('nothing writes to is refused after a bounded wait, naming the pipe', () => {
    const fifo = join(privateFolder(), 'credence.json');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const started = Date.now();
    const issue = refusal(() => readConfigFile(fifo, 300));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(issue).toMatchObject({ path: `file ${fifo}`, rule: 'readable' });
    expect(issue!.message).toContain('a pipe nothing wrote');
  });

  it('that group or others may write, or in a folder they may write, is refused as a file would be', () => {
    const dir = privateFolder();
    const fifo = join(dir, 'credence.json');
    execFileSync('mkfifo', ['-m', '622', fifo]);
    chmodSync(fifo, 0o622);
    expect(refusal(() => readConfigFile(fifo, 300))).toMatchObject({ rule: 'trusted_file', message: expect.stringContaining('may be written by group or others (mode 0622)') });
    const open = join(scratch(), 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const other = join(open, 'credence.json');
    execFileSync('mkfifo', ['-m', '600', other]);
    expect(refusal(() => readConfigFile(other, 300))).toMatchObject({ rule: 'trusted_file', message: expect.stringContaining('which group or others may write (mode 0777)') });
  });
});
