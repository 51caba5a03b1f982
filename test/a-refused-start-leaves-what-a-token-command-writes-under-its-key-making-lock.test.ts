import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/driven/files/data-folder-lock.ts';
import { openAccessRegistry } from '../adapters/runtime/index.ts';
import { holdAccessKeyMaking } from '../bin/commands/access-key-making-lock.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 410 #1: a refused first start (or `ca init`) on a folder that held nothing but the key-making lock swept, in
 * its discard, the access.db of a local token command that took that lock before the folder lock and wrote after:
 * the lock file was older than the folder lock and untouched since, so the folder was taken for the start's alone.
 * The discard sweeps nothing while the key-making lock is held, and a token command touches the file as it lets go.
 * #2: a refused start that made the folder removed it with all it held, the token command's lock and access.db too:
 * a folder holding the key-making lock keeps all but the start's own lock files.
 * #4: a token command waiting behind a key command says so.
 */
const scratch = temporaryFolders('credence-refused-start-token-wrote-');
const MAKING = 'access-key-making.lock';

const emptyFolder = (): string => {
  const dir = join(scratch(), 'data');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
};

describe('a refused start on a folder that was there, empty but for the key-making lock', () => {
  it('leaves the access.db a token command holding the lock since before wrote after the folder lock was taken', () => {
    const dir = emptyFolder();
    const making = holdAccessKeyMaking(dir);
    try {
      const lock = lockDataFolder(dir);
      openAccessRegistry({ dir }).close();
      lock.discard();
      expect(existsSync(join(dir, 'access.db')), 'the refused start swept the token command\'s access.db').toBe(true);
      expect(existsSync(join(dir, MAKING))).toBe(true);
    } finally {
      making.release();
    }
  });

  it('leaves the access.db of a token command that ended between the folder lock and the discard', async () => {
    const dir = emptyFolder();
    const making = holdAccessKeyMaking(dir);
    const lock = lockDataFolder(dir);
    await sleep(20);
    openAccessRegistry({ dir }).close();
    making.release();
    lock.discard();
    expect(existsSync(join(dir, 'access.db')), 'the refused start swept the token command\'s access.db').toBe(true);
  });

  it('still sweeps what it added itself when the last token command ended long before', () => {
    const dir = emptyFolder();
    holdAccessKeyMaking(dir).release();
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, MAKING), hourAgo, hourAgo);
    const lock = lockDataFolder(dir);
    // What a start writes first: its access control.
    openAccessRegistry({ dir }).close();
    lock.discard();
    expect(readdirSync(dir)).toEqual([MAKING]);
  });
});

describe('a refused start that made the folder', () => {
  it('keeps the folder, the token command\'s lock and access.db, removing only its own lock files', () => {
    const dir = join(scratch(), 'made', 'data');
    const lock = lockDataFolder(dir);
    const making = holdAccessKeyMaking(dir);
    try {
      openAccessRegistry({ dir }).close();
      lock.discard();
      expect(existsSync(join(dir, 'access.db')), 'the refused start removed the token command\'s access.db').toBe(true);
      expect(existsSync(join(dir, MAKING))).toBe(true);
      expect(readdirSync(dir).filter((name) => name.startsWith('service'))).toEqual([]);
    } finally {
      making.release();
    }
  });

  it('is removed whole when no token command came', () => {
    const dir = join(scratch(), 'made', 'data');
    const lock = lockDataFolder(dir);
    openAccessRegistry({ dir }).close();
    lock.discard();
    expect(existsSync(join(dir, '..'))).toBe(false);
  });
});

describe('a token command behind a key command holding the key-making lock', () => {
  it('says once that it waits for it, then takes the lock when it ends', async () => {
    const dir = emptyFolder();
    holdAccessKeyMaking(dir).release();
    // A key command's exclusive hold, from another process, for a second and a half.
    const script =
      "const D=require('better-sqlite3');const db=new D(process.argv[1]);db.exec('BEGIN EXCLUSIVE');" +
      "process.stdout.write('held\\n');setTimeout(()=>{db.close();process.exit(0)},1500);";
    const holder = spawn(process.execPath, ['-e', script, join(dir, MAKING)], { cwd: process.cwd() });
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', () => resolve());
      holder.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    const said: string[] = [];
    const making = holdAccessKeyMaking(dir, (line) => said.push(line));
    making.release();
    expect(said).toEqual([`waiting for a credence key list or key destroy on ${dir}`]);
  }, 30_000);

  it('says nothing when the lock is free', () => {
    const dir = emptyFolder();
    const said: string[] = [];
    holdAccessKeyMaking(dir, (line) => said.push(line)).release();
    holdAccessKeyMaking(dir, (line) => said.push(line)).release();
    expect(said).toEqual([]);
  });
});
