import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { lockDataFolder, tryLockDataFolder } from '../adapters/runtime/data-folder.ts';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { isCredenceError } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * The data folder's locks (lockDataFolder, tryLockDataFolder) checked the owner of the KEK CREDENCE_KEK_FILE names
 * outside the folder, but not the owner of the folder it lives in: one another account owns (who may swap the KEK,
 * whatever the KEK's own owner) was locked, and the data folder swept, and only the Secure Environment's opening
 * refused it afterwards. The locks now refuse it first, by the same typed refusal (validation, rule `owner`, under
 * the setting), naming the folder, and remove or make nothing. A folder root owns stays accepted, as the opening
 * accepts it. Making a folder another account's takes chown, which only root may do: as anyone else these tests
 * cannot run.
 */
const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;
const scratch = temporaryFolders('credence-lock-foreign-kek-folder-');

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
const KEK = 'credence.kek';

/**
 * A data folder with a store, its KEK (this account's) outside it in a folder another account owns, and an hour-old
 * temp of a killed write in the data folder: what a sweep would remove, were the lock taken.
 */
const folderWithKekInAForeignFolder = async () => {
  const dir = join(scratch(), 'data');
  const kekFolder = join(scratch(), 'secrets');
  mkdirSync(kekFolder, { mode: 0o700 });
  const kek = join(kekFolder, KEK);
  const env = { CREDENCE_KEK_FILE: kek };
  openServiceSecureEnvironment(dir, undefined, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)), env }).close();
  await openSqliteStoreInDir(dir).close();
  const stray = join(dir, `.events.db.${DEAD_PID}.0123456789ab.tmp`);
  writeFileSync(stray, 'a whole file, say\n', { mode: 0o600 });
  const anHourAgo = Date.now() / 1000 - 3600;
  utimesSync(stray, anHourAgo, anHourAgo);
  chownSync(kekFolder, NOBODY, NOBODY);
  return { dir, kekFolder, kek, env };
};

/** Every entry under `root`: its owner, mode and a digest of its bytes, to show a refusal changed nothing. */
const snapshot = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const name of readdirSync(root, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(root, name);
    const stat = statSync(path);
    const digest = stat.isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(path)).digest('hex');
    out[relative(root, path)] = `${stat.uid} ${(stat.mode & 0o777).toString(8)} ${digest}`;
  }
  return out;
};

const refusalOf = (take: () => void): unknown => {
  try {
    take();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe.skipIf(!asRoot)("a data folder's lock, its KEK outside it in a folder another account owns (needs root to chown)", () => {
  it.each([
    ['lockDataFolder', (dir: string, env: Record<string, string>) => lockDataFolder(dir, env).release()],
    [
      'tryLockDataFolder',
      (dir: string, env: Record<string, string>) => {
        const taken = tryLockDataFolder(dir, [], env);
        if ('lock' in taken) taken.lock.release();
      },
    ],
  ] as const)('%s refuses it as owner, naming the folder and the setting, and removes or makes nothing', async (_, take) => {
    const { dir, kekFolder, env } = await folderWithKekInAForeignFolder();
    const before = { folder: snapshot(dir), secrets: snapshot(kekFolder) };

    const caught = refusalOf(() => take(dir, env));

    expect(isCredenceError(caught, 'validation')).toBe(true);
    if (!isCredenceError(caught) || caught.problem.code !== 'validation') return;
    expect(caught.problem.issues.map((i) => [i.path, i.rule])).toEqual([['env CREDENCE_KEK_FILE', 'owner']]);
    expect(caught.problem.issues[0]!.message).toContain(`${kekFolder} is owned by uid ${NOBODY}`);
    expect({ folder: snapshot(dir), secrets: snapshot(kekFolder) }).toEqual(before);
  });

  it('credence projections status refuses it naming the folder, and removes nothing', async () => {
    const { dir, kekFolder, env } = await folderWithKekInAForeignFolder();
    const before = { folder: snapshot(dir), secrets: snapshot(kekFolder) };

    const c = capture();
    const code = await main(['projections', 'status', '--data', dir], { ...c.io, env });

    expect(code, c.err.join('\n')).not.toBe(0);
    expect(c.err.join('\n')).toContain(`${kekFolder} is owned by uid ${NOBODY}`);
    expect({ folder: snapshot(dir), secrets: snapshot(kekFolder) }).toEqual(before);
  });

  it('a KEK folder root owns is accepted, as the opening accepts it: the lock is taken', async () => {
    const { dir, kekFolder, env } = await folderWithKekInAForeignFolder();
    chownSync(kekFolder, 0, 0);
    const lock = lockDataFolder(dir, env);
    lock.release();
    expect(lock.removedStrays).toEqual([`.events.db.${DEAD_PID}.0123456789ab.tmp`]);
  });
});
