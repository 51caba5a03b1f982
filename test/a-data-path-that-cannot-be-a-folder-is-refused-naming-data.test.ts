/**
 * Found in review: a `--data` path that cannot be a folder (a regular file, a path under one, a parent this user may
 * not write in) failed with the system's error at exit 1 (`error: EEXIST: file already exists, mkdir '/tmp/afile'`).
 * It is now a `validation` error on `data`, rule `usable_folder`, saying what is wrong with the path; the local
 * commands that treat a configuration error as bad usage (token create, ca init) exit 2 with it.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-unusable-data-');

const aFile = (): string => {
  const file = join(scratch(), 'afile');
  writeFileSync(file, 'not a folder');
  return file;
};

const refusalOf = (run: () => unknown): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('a data path that cannot be a folder', () => {
  it.each([
    ['a regular file', () => aFile(), 'is a file, not a folder'],
    ['a path under a regular file', () => join(aFile(), 'data'), 'a part of the path above it is a file'],
  ])('%s is a validation error on data (usable_folder), not the system error', (_what, path, message) => {
    const dir = path();
    const error = refusalOf(() => lockDataFolder(dir).release());
    expect(isCredenceError(error, 'validation')).toBe(true);
    const problem = (error as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem;
    expect(problem.issues).toEqual([{ path: 'data', rule: 'usable_folder', message: expect.stringContaining(message) }]);
    expect(problem.issues[0]!.message).toContain(dir);
  });

  it.skipIf(process.getuid?.() === 0)('a folder under one this user may not write in is a validation error on data (usable_folder)', () => {
    const parent = join(scratch(), 'locked');
    mkdirSync(parent, { mode: 0o500 });
    try {
      const error = refusalOf(() => lockDataFolder(join(parent, 'data')).release());
      expect(isCredenceError(error, 'validation')).toBe(true);
      expect((error as Error).message).toContain('permission denied (EACCES)');
      expect((error as { problem: { issues: { rule: string }[] } }).problem.issues[0]!.rule).toBe('usable_folder');
    } finally {
      chmodSync(parent, 0o700);
    }
  });

  it.each([
    ['token create', ['token', 'create', '--role', 'admin', '--subject', 'alice', '--ttl', '1h']],
    ['ca init', ['ca', 'init']],
  ])('credence %s --data <a file> is bad usage (exit 2) naming data and what is wrong', async (_what, args) => {
    const file = aFile();
    const refused = await runCli([...args, '--data', file]);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toMatch(/data: .*is a file, not a folder/);
    expect(refused.err).not.toContain('EEXIST');
    expect(existsSync(join(file, '..', 'service-lock.db'))).toBe(false);
  });

  it.each([['serve'], ['start']])('credence %s --data <a file> is bad usage (exit 2) naming --data and what is wrong, not the system error', async (command) => {
    const file = aFile();
    const refused = await runCli([command, '--data', file, '--port', '0']);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toMatch(/--data: .*is a file, not a folder/);
    expect(refused.err).not.toContain('EEXIST');
  });
});
