import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { holdAccessKeyMaking } from '../bin/commands/access-key-making-lock.ts';
import { runCli, spawnCli } from './support/cli.ts';
import { withDataFolderSe } from './support/key-held.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 399 #3: local token commands share one key-making lock, `access-key-making.lock` (access-key-making-lock.ts
 * holdAccessKeyMaking), made once and never removed, where each held a file of its own (review 379: a killed command's
 * file, one that was not a lock, a pid and age test to sweep them). A file of that name that is no SQLite database is
 * refused naming it; a file an earlier version left (`access-key-making-<pid>-<random>.lock`) is removed by a key
 * command once its lock is free. Review 379 #4: `key list`'s refusal after its wait says "nothing listed".
 */
const scratch = temporaryFolders('credence-key-making-lock-');
const MAKING = 'access-key-making.lock';
const CREDENCE = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));

/** A data folder a token was issued from (its access.db, signing key and key-making lock made). */
const usedFolder = async (): Promise<string> => {
  const dir = join(scratch(), 'data');
  const issued = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.err).toBe(0);
  return dir;
};

/** A lock file as an earlier version's token command made one (a SQLite database). */
const earlierLockFile = (dir: string, hex: string): string => {
  const file = join(dir, `access-key-making-4194001-${hex}.lock`);
  const db = new Database(file);
  db.exec('CREATE TABLE IF NOT EXISTS access_key_making (held INTEGER)');
  db.close();
  return file;
};

describe('the key-making lock', () => {
  it('is one private file made by the first token command on a folder there and kept by every command after it', async () => {
    // The first `token create` makes the folder (no lock before there is one: token-target.ts); the next makes the lock.
    const dir = await usedFolder();
    const file = join(dir, MAKING);
    expect(existsSync(file)).toBe(false);
    const again = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops2', '--ttl', '1h']);
    expect(again.code, again.err).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const listed = await runCli(['key', 'list', '--data', dir]);
    expect(listed.code, listed.err).toBe(0);
    expect(listed.err).not.toContain('waiting');
    expect(readdirSync(dir).filter((name) => name.startsWith('access-key-making'))).toEqual([MAKING]);
  }, 60_000);
});

describe('a key-making lock file that is not a SQLite database', () => {
  it('is refused by key list, key destroy and token create naming it and saying it can be removed, nothing destroyed', async () => {
    const dir = await usedFolder();
    const key = await withDataFolderSe(dir, ACCESS_OWNER, (se) => se.generate('ed25519', { usage: 'sign' }));
    const file = join(dir, MAKING);
    writeFileSync(file, 'not a database: '.repeat(13).slice(0, 200));

    const listed = await runCli(['key', 'list', '--data', dir]);
    expect(listed.code).not.toBe(0);
    expect(listed.err).toContain(file);
    expect(listed.err).toContain('access_key_making_file_not_a_lock');
    expect(listed.err).toMatch(/remove it .*no credence token command/);

    const destroyed = await runCli(['key', 'destroy', '--owner', ACCESS_OWNER, '--handle', key, '--data', dir]);
    expect(destroyed.code).not.toBe(0);
    expect(destroyed.err).toContain(file);
    expect(destroyed.err).toContain('nothing listed or destroyed');
    expect(await withDataFolderSe(dir, ACCESS_OWNER, async (se) => (await se.listKeys({ limit: 100 })).keys.map((k) => k.handle))).toContain(key);
    // Not Credence's to remove: a token command is refused the same way, and leaves it.
    const again = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops2', '--ttl', '1h']);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain(file);
    expect(again.err).toContain('access_key_making_file_not_a_lock');
    expect(existsSync(file)).toBe(true);
  }, 60_000);
});

describe('a key-making lock file an earlier version left', () => {
  it('is removed by a key command once its lock is free, after waiting for one held, saying so', async () => {
    const dir = await usedFolder();
    const left = earlierLockFile(dir, 'a1b2c3d4e5f60718');
    const held = earlierLockFile(dir, 'b1b2c3d4e5f60718');
    const holder = new Database(held);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const child = spawn(process.execPath, [CREDENCE, 'key', 'list', '--data', dir]);
      child.stdout.resume();
      let err = '';
      // The earlier version's command ends once the key command says it waits for it.
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (err.includes('waiting up to 15 s')) holder.close();
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, err).toBe(0);
      expect(err).toContain(`waiting up to 15 s for a local credence token command making an API token signing key in ${dir}`);
    } finally {
      holder.close();
    }
    expect([left, held].filter((f) => existsSync(f))).toEqual([]);
    // A key command makes no key-making lock of its own: only token commands make the folder's one.
    expect(existsSync(join(dir, MAKING))).toBe(false);
  }, 60_000);
});

describe("key list's refusal after its wait", () => {
  it('says what key list did, not "nothing destroyed"', async () => {
    const dir = await usedFolder();
    const making = holdAccessKeyMaking(dir);
    try {
      const listed = await spawnCli(['key', 'list', '--data', dir]);
      expect(listed.code).not.toBe(0);
      expect(listed.err).toContain('access_key_being_made');
      expect(listed.err).not.toContain('nothing destroyed');
      expect(listed.err).toContain('nothing listed');
    } finally {
      making.release();
    }
  }, 60_000);
});

/*
 * Review 410 #5: a lock file someone set in WAL mode (journal_mode=WAL) refused a token command blaming a key command
 * (`access_key_making_held`), and a key command took it exclusively while a reader held it (BEGIN EXCLUSIVE under WAL
 * does not wait for readers): both refuse it as no lock, saying it is in WAL mode.
 */
describe('a key-making lock file in WAL mode', () => {
  it('is refused by token and key commands alike as not a lock, in WAL mode', async () => {
    const dir = await usedFolder();
    const file = join(dir, MAKING);
    const wal = new Database(file);
    wal.pragma('journal_mode = WAL');
    wal.exec('CREATE TABLE IF NOT EXISTS access_key_making (held INTEGER)');
    wal.exec('BEGIN');
    wal.prepare('SELECT count(*) FROM access_key_making').get();
    try {
      const again = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops2', '--ttl', '1h']);
      expect(again.code).not.toBe(0);
      expect(again.err).toContain('access_key_making_file_not_a_lock');
      expect(again.err).not.toContain('access_key_making_held');
      expect(again.err).toContain('in WAL mode');
      expect(again.err).toContain(file);

      const listed = await runCli(['key', 'list', '--data', dir]);
      expect(listed.code).not.toBe(0);
      expect(listed.err).toContain('access_key_making_file_not_a_lock');
      expect(listed.err).toContain('in WAL mode');
      expect(listed.err).toContain('nothing listed or destroyed');
    } finally {
      wal.close();
    }
  }, 60_000);
});
