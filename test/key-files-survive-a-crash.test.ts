// Issue 10 item 7: the transparency key, its handle and the KEK are created atomically. A process killed while
// creating one leaves no file or a complete one, never the empty `transparency.key` every later open refused.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { loadKek } from '../adapters/driven/secure-environment/kek.ts';
import {
  KEY_FILE,
  KEY_HANDLE_FILE,
  openKeyFileSigner,
  openKeyFileSignerInDir,
  openSecureEnvironmentSignerInDir,
  LOG_KEY_OWNER,
} from '../adapters/driven/transparency/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { tempDirs } from './transparency-fixtures.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./support/kill-during-write.ts', import.meta.url));
const KEY_NAME = 'credence.test/log';
const random = (length: number): Uint8Array => new Uint8Array(length).fill(42);

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** Runs the key creation in a child process that SIGKILLs itself on the nth call of the fs function `step`. */
const killDuring = (target: 'transparency-key' | 'kek', dir: string, step: string, nth: number): void => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', CHILD, target, dir, step, String(nth)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  // Killed at that point, not finished nor failed otherwise: the crash happened where the case says.
  expect({ signal: child.signal, stdout: child.stdout, stderr: child.stderr }).toMatchObject({ signal: 'SIGKILL', stdout: '' });
};

/** Files that are not a writer's temp files must never be empty. */
const emptyFiles = (dir: string): string[] =>
  readdirSync(dir).filter((name) => !/^\..*\.tmp$/.test(name) && statSync(join(dir, name)).size === 0);

describe('a process killed while creating the transparency key leaves no key file or a complete one', () => {
  it.each([
    ['the temp file is created, before a byte is written', 'writeSync', 1],
    ['the key is written, before it is fsynced', 'fsyncSync', 1],
    ['the key is fsynced, before it is linked into place', 'linkSync', 1],
    ['the key is in place, before its temp name is removed', 'unlinkSync', 1],
    ['the key is in place, before the folder is fsynced', 'fsyncSync', 2],
    ['the key is in place, before the public key file is renamed into place', 'renameSync', 1],
  ] as const)('killed once %s: never an empty key, and the next open works', (_, step, nth) => {
    const dir = dirs.make();
    killDuring('transparency-key', dir, step, nth);
    const path = join(dir, KEY_FILE);
    expect(emptyFiles(dir)).toEqual([]);
    // Absent, or complete: it opens as it is, without creating anything.
    const left = statSync(path, { throwIfNoEntry: false }) === undefined ? undefined : openKeyFileSigner({ path, keyName: KEY_NAME });
    const next = openKeyFileSignerInDir(dir, KEY_NAME);
    if (left !== undefined) expect(next.publicKey).toEqual(left.publicKey);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(openKeyFileSignerInDir(dir, KEY_NAME).publicKey).toEqual(next.publicKey);
  });
});

describe('a process killed while creating the KEK file leaves no KEK file or a complete one', () => {
  it.each([
    ['the temp file is created, before a byte is written', 'writeSync', 1],
    ['the KEK is fsynced, before it is linked into place', 'linkSync', 1],
    ['the KEK is in place, before the folder is fsynced', 'fsyncSync', 2],
  ] as const)('killed once %s: never an empty KEK, and the next open works', (_, step, nth) => {
    const dir = dirs.make();
    killDuring('kek', dir, step, nth);
    const path = join(dir, 'kek');
    expect(emptyFiles(dir)).toEqual([]);
    const left = statSync(path, { throwIfNoEntry: false }) === undefined ? undefined : loadKek({ source: 'file', path }, random);
    const next = loadKek({ source: 'file', path }, random);
    expect(next).toHaveLength(32);
    if (left !== undefined) expect(next).toEqual(left);
    expect(loadKek({ source: 'file', path }, random)).toEqual(next);
  });
});

describe('an empty or damaged key file left by an earlier version is refused with what to do, never replaced', () => {
  it('an empty transparency.key names the file and says to restore it or, for a log that never signed, delete it', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, KEY_FILE), '', { mode: 0o600 });
    expect(() => openKeyFileSignerInDir(dir, KEY_NAME)).toThrow(
      new RegExp(`key file ${join(dir, KEY_FILE)} is empty .*restore it from a backup.*never signed a checkpoint, delete it`),
    );
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toBe('');
  });

  it('a truncated transparency.key says the same', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, KEY_FILE), `PRIVATE+KEY+${KEY_NAME}+`, { mode: 0o600 });
    expect(() => openKeyFileSignerInDir(dir, KEY_NAME)).toThrow(/damaged or truncated.*restore it from a backup/);
  });

  it('an empty transparency.handle is refused, and no new Secure Environment key takes its place', async () => {
    const dir = dirs.make();
    writeFileSync(join(dir, KEY_HANDLE_FILE), '');
    const se = memorySecureEnvironment('transparency-log-key', () => new Date('2026-01-01T00:00:00.000Z'));
    await expect(openSecureEnvironmentSignerInDir(dir, se.forOwner(LOG_KEY_OWNER), KEY_NAME)).rejects.toThrow(
      new RegExp(`key handle file ${join(dir, KEY_HANDLE_FILE)} does not hold a key handle \\(empty or damaged\\): restore it`),
    );
    expect(readFileSync(join(dir, KEY_HANDLE_FILE), 'utf8')).toBe('');
  });

  it('an empty KEK file is a validation error naming the file and what to do', () => {
    const path = join(dirs.make(), 'kek');
    writeFileSync(path, '', { mode: 0o600 });
    let error: unknown;
    try {
      loadKek({ source: 'file', path }, random);
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`${path}: is empty .*restore it from a backup`));
    expect(readFileSync(path, 'utf8')).toBe('');
  });
});
