import { chmodSync, chownSync, copyFileSync, lstatSync, readFileSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { LOG_KEY_OWNER, openSecureEnvironmentSignerInDir, openTransparencyInDir } from '../adapters/driven/transparency/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * `export --data` (and every start) opened the log key and wrote transparency.pub again, same bytes, new file: a
 * folder only read for an export changed under backups and file watchers. The file is now written only when it does
 * not hold the key with mode 0644, so a removed or edited file is still put right.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const PAST = new Date('2020-01-01T00:00:00Z');

const exported = async (dir: string): Promise<void> => {
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, `export-${Math.random()}.json`), '--data', dir], c.io), c.err.join('\n')).toBe(0);
};

const folderWithLog = async (): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 4);
  await store.close();
  // Its key a file, as a program without a Secure Environment makes it: an export makes none (review 134).
  openTransparencyInDir(dir).log.close();
  await exported(dir);
  return dir;
};

const agedPub = (dir: string): { path: string; ino: number; text: string } => {
  const path = join(dir, 'transparency.pub');
  utimesSync(path, PAST, PAST);
  return { path, ino: statSync(path).ino, text: readFileSync(path, 'utf8') };
};

describe('transparency.pub beside a key file', () => {
  it('is left as it is, inode and mtime, when the folder is opened again', async () => {
    const dir = await folderWithLog();
    const before = agedPub(dir);
    await exported(dir);
    const after = statSync(before.path);
    expect(after.ino).toBe(before.ino);
    expect(after.mtime.getTime()).toBe(PAST.getTime());
    expect(readFileSync(before.path, 'utf8')).toBe(before.text);
  });

  it('is written again when it was removed, edited or made private', async () => {
    const dir = await folderWithLog();
    const { path, text } = agedPub(dir);
    unlinkSync(path);
    await exported(dir);
    expect(readFileSync(path, 'utf8')).toBe(text);

    writeFileSync(path, 'someone+00000000+AAAA\n');
    await exported(dir);
    expect(readFileSync(path, 'utf8')).toBe(text);

    chmodSync(path, 0o600);
    await exported(dir);
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it("is written again as this account's own regular file when it is a link to the right key, or another account's", async () => {
    const dir = await folderWithLog();
    const { path, text } = agedPub(dir);
    const elsewhere = join(dirs.make(), 'pub');
    copyFileSync(path, elsewhere);
    chmodSync(elsewhere, 0o644);
    unlinkSync(path);
    symlinkSync(elsewhere, path);
    await exported(dir);
    expect(lstatSync(path).isFile()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(text);

    if (process.geteuid?.() === 0) {
      chownSync(path, 65534, 65534);
      await exported(dir);
      expect(statSync(path).uid).toBe(0);
    }
  });
});

describe('transparency.pub beside a key in the Secure Environment', () => {
  it('is left as it is when the folder is opened again, and put right when edited', async () => {
    const dir = dirs.make();
    const se = memorySecureEnvironment('pub-file', () => new Date()).forOwner(LOG_KEY_OWNER);
    await openSecureEnvironmentSignerInDir(dir, se, 'credence.local/log');
    const before = agedPub(dir);
    await openSecureEnvironmentSignerInDir(dir, se, 'credence.local/log');
    expect(statSync(before.path).ino).toBe(before.ino);
    expect(statSync(before.path).mtime.getTime()).toBe(PAST.getTime());

    writeFileSync(before.path, 'edited\n');
    await openSecureEnvironmentSignerInDir(dir, se, 'credence.local/log');
    expect(readFileSync(before.path, 'utf8')).toBe(before.text);
  });
});
