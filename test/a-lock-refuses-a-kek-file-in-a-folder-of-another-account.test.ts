import { chownSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lockDataFolder, tryLockDataFolder } from '../adapters/runtime/data-folder.ts';
import { main } from '../bin/cli.ts';
import { isCredenceError } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { dataFolderWithOutsideKek, DEAD_PID, NOBODY, treeSnapshot } from './support/outside-kek-folder.ts';
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
const asRoot = process.geteuid?.() === 0;
const scratch = temporaryFolders('credence-lock-foreign-kek-folder-');

/** A data folder with its KEK (this account's) outside it, in a folder another account owns (outside-kek-folder.ts). */
const folderWithKekInAForeignFolder = async () => {
  const made = await dataFolderWithOutsideKek(scratch());
  chownSync(made.kekFolder, NOBODY, NOBODY);
  return made;
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
    const before = { folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) };

    const caught = refusalOf(() => take(dir, env));

    expect(isCredenceError(caught, 'validation')).toBe(true);
    if (!isCredenceError(caught) || caught.problem.code !== 'validation') return;
    expect(caught.problem.issues.map((i) => [i.path, i.rule])).toEqual([['env CREDENCE_KEK_FILE', 'owner']]);
    expect(caught.problem.issues[0]!.message).toContain(`${kekFolder} is owned by uid ${NOBODY}`);
    expect({ folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) }).toEqual(before);
  });

  it('credence projections status refuses it naming the folder, and removes nothing', async () => {
    const { dir, kekFolder, env } = await folderWithKekInAForeignFolder();
    const before = { folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) };

    const c = capture();
    const code = await main(['projections', 'status', '--data', dir], { ...c.io, env });

    expect(code, c.err.join('\n')).not.toBe(0);
    expect(c.err.join('\n')).toContain(`${kekFolder} is owned by uid ${NOBODY}`);
    expect({ folder: treeSnapshot(dir), secrets: treeSnapshot(kekFolder) }).toEqual(before);
  });

  it('a KEK folder root owns is accepted, as the opening accepts it: the lock is taken', async () => {
    const { dir, kekFolder, env } = await folderWithKekInAForeignFolder();
    chownSync(kekFolder, 0, 0);
    const lock = lockDataFolder(dir, env);
    lock.release();
    expect(lock.removedStrays).toEqual([`.events.db.${DEAD_PID}.0123456789ab.tmp`]);
  });
});
