import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { holdAccessKeyMaking } from '../bin/commands/keys-in-use.ts';
import { runCli, spawnCli } from './support/cli.ts';
import { withDataFolderSe } from './support/key-held.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 379: a local token command holds `access-key-making-<pid>-<random>.lock` (keys-in-use.ts holdAccessKeyMaking)
 * while it may make a key. #2: a file of that name that is no SQLite database made `key list` and `key destroy` fail
 * with SQLite's bare `file is not a database`, naming nothing. #3: a command killed left its file forever. #4: `key
 * list`'s refusal after its wait said "nothing destroyed", of a command that destroys nothing.
 */
const scratch = temporaryFolders('credence-key-making-lock-');

/** A data folder a token was issued from (its access.db and signing key made). */
const usedFolder = async (): Promise<string> => {
  const dir = join(scratch(), 'data');
  const issued = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.err).toBe(0);
  return dir;
};

/** A pid no process here has any longer: a child's, once it has ended. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

/** A key-making lock file as a token command makes one (a SQLite database), of `pid`, its times `ageMs` back. */
const lockFile = (dir: string, pid: number, ageMs: number, hex = 'a1b2c3d4e5f60718'): string => {
  const file = join(dir, `access-key-making-${pid}-${hex}.lock`);
  const db = new Database(file);
  db.exec('CREATE TABLE IF NOT EXISTS access_key_making (held INTEGER)');
  db.close();
  const then = new Date(Date.now() - ageMs);
  utimesSync(file, then, then);
  return file;
};

const OLD = 10 * 60_000;

describe('a key-making lock file that is not a SQLite database', () => {
  it('is refused by key list and key destroy naming it and saying it can be removed, nothing destroyed', async () => {
    const dir = await usedFolder();
    const key = await withDataFolderSe(dir, ACCESS_OWNER, (se) => se.generate('ed25519', { usage: 'sign' }));
    const file = join(dir, 'access-key-making-4194000-00ff00ff00ff00ff.lock');
    writeFileSync(file, 'not a database: '.repeat(13).slice(0, 200));

    const listed = await runCli(['key', 'list', '--data', dir]);
    expect(listed.code).not.toBe(0);
    expect(listed.err).toContain(file);
    expect(listed.err).toContain('access_key_making_file');
    expect(listed.err).toMatch(/remove it .*no credence token command/);

    const destroyed = await runCli(['key', 'destroy', '--owner', ACCESS_OWNER, '--handle', key, '--data', dir]);
    expect(destroyed.code).not.toBe(0);
    expect(destroyed.err).toContain(file);
    expect(destroyed.err).toContain('nothing listed or destroyed');
    expect(await withDataFolderSe(dir, ACCESS_OWNER, async (se) => (await se.listKeys({ limit: 100 })).keys.map((k) => k.handle))).toContain(key);
    // Not Credence's to remove: the next token command leaves it too.
    const again = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops2', '--ttl', '1h']);
    expect(again.code, again.err).toBe(0);
    expect(existsSync(file)).toBe(true);
  }, 60_000);
});

describe('a key-making lock file a killed token command left', () => {
  it('is removed by the next token command once its process is gone and its lock free; a held, live or recent one is kept', async () => {
    const dir = await usedFolder();
    const left = lockFile(dir, deadPid(), OLD);
    const recent = lockFile(dir, deadPid(), 0, 'b1b2c3d4e5f60718');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const live = lockFile(dir, sleeper.pid!, OLD, 'c1b2c3d4e5f60718');
      // A dead pid here whose lock is held: a process of another PID namespace on the same volume.
      const held = lockFile(dir, deadPid(), OLD, 'd1b2c3d4e5f60718');
      const holder = new Database(held);
      holder.exec('BEGIN EXCLUSIVE');
      try {
        const issued = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops2', '--ttl', '1h']);
        expect(issued.code, issued.err).toBe(0);
      } finally {
        holder.close();
      }
      expect(existsSync(left)).toBe(false);
      expect([recent, live, held].filter((f) => existsSync(f))).toEqual([recent, live, held]);
      // key list, read-only, removes none: it leaves what it found.
      const before = readdirSync(dir).sort();
      lockFile(dir, deadPid(), OLD, 'e1b2c3d4e5f60718');
      const listed = await runCli(['key', 'list', '--data', dir]);
      expect(listed.code, listed.err).toBe(0);
      expect(readdirSync(dir).filter((n) => n.startsWith('access-key-making-')).length).toBe(before.filter((n) => n.startsWith('access-key-making-')).length + 1);
    } finally {
      sleeper.kill();
    }
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
