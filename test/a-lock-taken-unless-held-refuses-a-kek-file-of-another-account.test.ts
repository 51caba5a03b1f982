import { createHash, randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { tryLockDataFolder } from '../adapters/runtime/data-folder.ts';
import { openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * tryLockDataFolder (the lock of `credence query`, `projections status` and `replay`'s checkpoint write) looked at
 * the KEK CREDENCE_KEK_FILE names outside the folder only to sweep the temps beside it: one another account owns,
 * which lockDataFolder refuses (review 47 item 1: a planted KEK seals every key), was locked beside and swept.
 * It is now refused by the same check, naming the KEK, before anything is made or removed. Making a file another
 * account's takes chown, which only root may do: as anyone else these tests cannot run.
 */
const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;
const scratch = temporaryFolders('credence-try-lock-foreign-kek-');

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
const KEK = 'credence.kek';

/**
 * A data folder with a store, its KEK outside it owned by another account, and an hour-old temp of a killed write
 * in the folder and beside the KEK: what a sweep would remove, were the lock taken.
 */
const folderWithAForeignKek = async () => {
  const dir = join(scratch(), 'data');
  const kekFolder = join(scratch(), 'secrets');
  mkdirSync(kekFolder, { mode: 0o700 });
  const kek = join(kekFolder, KEK);
  const env = { CREDENCE_KEK_FILE: kek };
  openServiceSecureEnvironment(dir, undefined, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)), env }).close();
  await openSqliteStoreInDir(dir).close();
  const anHourAgo = Date.now() / 1000 - 3600;
  for (const stray of [join(dir, `.events.db.${DEAD_PID}.0123456789ab.tmp`), join(kekFolder, `.${KEK}.${DEAD_PID}.0123456789ab.tmp`)]) {
    writeFileSync(stray, 'a whole KEK, say\n', { mode: 0o600 });
    utimesSync(stray, anHourAgo, anHourAgo);
  }
  chownSync(kek, NOBODY, NOBODY);
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

describe.skipIf(!asRoot)('a lock taken unless another process holds the folder, its KEK outside it another account\'s (needs root to chown)', () => {
  it('tryLockDataFolder refuses it naming the KEK file and its setting, and removes or makes nothing', async () => {
    const { dir, kekFolder, kek, env } = await folderWithAForeignKek();
    const before = { folder: snapshot(dir), secrets: snapshot(kekFolder) };

    let caught: unknown;
    try {
      const taken = tryLockDataFolder(dir, [], env);
      if ('lock' in taken) taken.lock.release();
    } catch (error) {
      caught = error;
    }

    expect(isCredenceError(caught, 'validation')).toBe(true);
    if (!isCredenceError(caught) || caught.problem.code !== 'validation') return;
    expect(caught.problem.issues.map((i) => [i.path, i.rule])).toEqual([['env CREDENCE_KEK_FILE', 'owner']]);
    expect(caught.problem.issues[0]!.message).toContain(`${kek} is owned by uid ${NOBODY}`);
    expect(caught.problem.issues[0]!.message).toContain(`chown 0 ${kek}`);
    expect({ folder: snapshot(dir), secrets: snapshot(kekFolder) }).toEqual(before);
  });

  it('credence projections status refuses it, naming the KEK file, and removes nothing', async () => {
    const { dir, kekFolder, kek, env } = await folderWithAForeignKek();
    const before = { folder: snapshot(dir), secrets: snapshot(kekFolder) };

    const c = capture();
    const code = await main(['projections', 'status', '--data', dir], { ...c.io, env });

    expect(code, c.err.join('\n')).not.toBe(0);
    expect(c.err.join('\n')).toContain(`${kek} is owned by uid ${NOBODY}`);
    expect({ folder: snapshot(dir), secrets: snapshot(kekFolder) }).toEqual(before);
  });
});
