import { chownSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { tryLockDataFolder } from '../adapters/runtime/data-folder.ts';
import { isCredenceError } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { dataFolderWithOutsideKek, NOBODY, treeSnapshot } from './support/outside-kek-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * tryLockDataFolder (the lock of `credence query`, `projections status` and `replay`'s checkpoint write) looked at
 * the KEK CREDENCE_KEK_FILE names outside the folder only to sweep the temps beside it: one another account owns,
 * which lockDataFolder refuses (review 47 item 1: a planted KEK seals every key), was locked beside and swept.
 * It is now refused by the same check, naming the KEK, before anything is made or removed. Making a file another
 * account's takes chown, which only root may do: as anyone else these tests cannot run.
 */
const asRoot = process.geteuid?.() === 0;
const scratch = temporaryFolders('credence-try-lock-foreign-kek-');

/** A data folder with its KEK outside it owned by another account, and temps in both folders (outside-kek-folder.ts). */
const folderWithAForeignKek = async () => {
  const made = await dataFolderWithOutsideKek(scratch(), { besideKek: true });
  chownSync(made.kek, NOBODY, NOBODY);
  return made;
};

describe.skipIf(!asRoot)('a lock taken unless another process holds the folder, its KEK outside it another account\'s (needs root to chown)', () => {
  it('tryLockDataFolder refuses it naming the KEK file and its setting, and removes or makes nothing', async () => {
    const { dir, kekFolder, kek, env } = await folderWithAForeignKek();
    const before = { folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) };

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
    expect({ folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) }).toEqual(before);
  });

  it('credence projections status refuses it, naming the KEK file, and removes nothing', async () => {
    const { dir, kekFolder, kek, env } = await folderWithAForeignKek();
    const before = { folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) };

    const c = capture();
    const code = await main(['projections', 'status', '--data', dir], { ...c.io, env });

    expect(code, c.err.join('\n')).not.toBe(0);
    expect(c.err.join('\n')).toContain(`${kek} is owned by uid ${NOBODY}`);
    expect({ folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) }).toEqual(before);
  });
});
