import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { main } from '../bin/cli.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import { folderStates } from './support/served-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 174: after a crash, README "Restoring a whole data folder" step 4 wrote the folder moved aside and then
 * refused with the wrong reason. A process killed mid-transaction on the Secure Environment's key database leaves
 * secure-environment.sqlite-journal (a hot journal); `key destroy-since-backup` read that database through a reader
 * that rolls a hot journal back by opening the file for writing, which moved the file's inode change time past the
 * restored one's: refused `later_than_backup` ("the two folders swapped?") on every retry, and the keys destroyed
 * since the backup stayed usable. The folder moved aside is evidence: read (a hot journal rolled back in a private
 * copy), never written.
 */
const scratch = temporaryFolders('credence-destroyed-since-crash-');
const OWNER = 'maf:infrastructure';
/** Where the private copies of a key database with a hot journal are rolled back (read-only-database.ts). */
const COPY_PREFIX = 'credence-rolled-back-copy-';
const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');

const credence = async (argv: string[]): Promise<{ code: number; out: string; stdout: string }> => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env: {} });
  return { code, out: [...out, ...err].join('\n'), stdout: out.join('\n') };
};

const keyDatabase = (dir: string): string => secureEnvironmentConfigForDataDir(dir).database;

/**
 * A process killed (SIGKILL) mid-transaction on the folder's key database, as a crash leaves it: pages of the
 * transaction spilled into the file and its hot -journal beside it.
 */
const killedMidTransaction = (dir: string): void => {
  const database = keyDatabase(dir);
  const child = spawnSync(
    process.execPath,
    [
      '-e',
      `const Database = require(${JSON.stringify(betterSqlite3)});
       const db = new Database(${JSON.stringify(database)});
       db.pragma('cache_size = 1');
       db.exec('BEGIN IMMEDIATE');
       const insert = db.prepare('INSERT INTO se_meta (name, value) VALUES (?, ?)');
       for (let i = 0; i < 200; i++) insert.run('spilled-' + i, Buffer.alloc(1000, 7));
       process.kill(process.pid, 'SIGKILL');`,
    ],
    { encoding: 'utf8' },
  );
  expect(child.signal, child.stderr).toBe('SIGKILL');
  expect(existsSync(`${database}-journal`)).toBe(true);
};

/** A file's content (SHA-256), mode, and modification and inode change times; a folder's mode and times. */
const stateOf = (path: string): string => {
  const stat = lstatSync(path);
  const times = `${stat.mode.toString(8)} ${stat.ctimeMs} ${stat.mtimeMs}`;
  return stat.isDirectory() ? times : `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${times}`;
};

/** Every entry under `dir`, folders too, by its path relative to `dir`: its state (stateOf). */
const untouched = (dir: string): Record<string, string> => folderStates(dir, stateOf);

const privateCopiesLeft = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith(COPY_PREFIX));

/** README step 3: the token signing key rotated again in the restored folder, withdrawing the old one. */
const stepThree = async (data: string): Promise<void> => {
  const run = await credence(['token', 'rotate-key', '--data', data, '--withdraw-previous']);
  expect(run.code, run.out).toBe(0);
};

/**
 * A folder with keys `shredded` and `kept` and a token signing key, backed up; then `shredded` destroyed, a process
 * killed mid-transaction on the key database, the folder moved aside (mv), the backup copied in (cp -a), and step 3.
 */
const restoredAfterACrash = async () => {
  const root = scratch();
  const data = join(root, 'data');
  const [shredded, kept] = await withDataFolderSe(data, OWNER, async (se) => [await se.generate('psk256'), await se.generate('psk256')]);
  const issued = await credence(['token', 'create', '--data', data, '--role', 'auditor', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.out).toBe(0);
  cpSync(data, join(root, 'backup'), { recursive: true, preserveTimestamps: true });
  await withDataFolderSe(data, OWNER, (se) => se.destroy(shredded!));
  killedMidTransaction(data);
  const aside = join(root, 'data.before-restore');
  renameSync(data, aside);
  cpSync(join(root, 'backup'), data, { recursive: true, preserveTimestamps: true });
  await stepThree(data);
  return { data, aside, shredded: shredded! as KeyHandle, kept: kept! as KeyHandle };
};

describe('a whole-folder restore after a crash', () => {
  it('given the folder moved aside left with a hot journal by a killed process, when key destroy-since-backup runs, then the key destroyed since the backup is destroyed again and no byte or time of that folder changes', async () => {
    const { data, aside, shredded, kept } = await restoredAfterACrash();
    const before = untouched(aside);
    const copiesBefore = privateCopiesLeft();

    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain(`destroyed again ${shredded} (${OWNER} psk256`);
    expect(untouched(aside)).toEqual(before);
    expect(existsSync(`${keyDatabase(aside)}-journal`)).toBe(true);
    expect(privateCopiesLeft()).toEqual(copiesBefore);
    expect(await withDataFolderSe(data, OWNER, (se) => isHeld(se, shredded))).toBe(false);
    expect(await withDataFolderSe(data, OWNER, (se) => isHeld(se, kept))).toBe(true);

    // A retry finds it done, and still writes nothing there.
    const again = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('no key of');
    expect(untouched(aside)).toEqual(before);
  });

  it('given the two folders swapped, the later one left with a hot journal, when key destroy-since-backup runs, then it is refused later_than_backup and neither key database is written', async () => {
    const { data, aside } = await restoredAfterACrash();
    const files = [keyDatabase(aside), `${keyDatabase(aside)}-journal`, keyDatabase(data)];
    const before = files.map(stateOf);

    const run = await credence(['key', 'destroy-since-backup', '--data', aside, '--before-restore', data]);
    expect(run.code, run.out).toBe(1);
    expect(run.out).toContain('later_than_backup');
    expect(run.out).not.toContain('destroyed again');
    expect(files.map(stateOf)).toEqual(before);
  });

  it('given a damaged key database in the folder moved aside, when key destroy-since-backup runs, then it is refused naming that folder and what to do there, and nothing is written in it', async () => {
    const { data, aside, shredded } = await restoredAfterACrash();
    const database = keyDatabase(aside);
    const bytes = readFileSync(database);
    bytes.fill(0xa5, 100, bytes.length);
    writeFileSync(database, bytes);
    rmSync(`${database}-journal`);
    const before = untouched(aside);

    const run = await credence(['key', 'destroy-since-backup', '--data', data, '--before-restore', aside]);
    expect(run.code, run.out).toBe(1);
    expect(run.out).toContain(database);
    expect(run.out).toContain('the folder moved aside before the restore');
    expect(run.out).not.toContain('stop the service and restore it');
    expect(run.out).toContain('nothing was destroyed');
    expect(untouched(aside)).toEqual(before);
    expect(await withDataFolderSe(data, OWNER, (se) => isHeld(se, shredded))).toBe(true);
  });
});
