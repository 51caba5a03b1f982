/**
 * Found in review 177: with `--data link/d --store sqlite:real/d` (link a symbolic link to real) and neither folder
 * made yet, the two paths were compared as written and taken for two folders: the store's lock made real/d, and the
 * data folder's lock on link/d was then refused naming this very process. A folder not made yet is where its nearest
 * existing parent really is, plus the rest of its path.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStoreConnectionString } from '../adapters/driven/store/index.ts';
import { lockStoreFolder } from '../adapters/runtime/store-folder-lock.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-store-linked-parent-');

describe('the store folder lock of a store in the data folder named through a linked parent', () => {
  it('is not taken when neither folder exists yet: it is the data folder', () => {
    const root = scratch();
    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'link'));
    const store = parseStoreConnectionString(`sqlite:${join(root, 'real', 'x', 'd')}`, 'flag --store');
    expect(lockStoreFolder(join(root, 'link', 'x', 'd'), store, 'flag --store')).toBeUndefined();
    expect(existsSync(join(root, 'real', 'x'))).toBe(false);
  });

  it('is taken for a new folder beside it', () => {
    const root = scratch();
    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'link'));
    const store = parseStoreConnectionString(`sqlite:${join(root, 'real', 'e')}`, 'flag --store');
    const lock = lockStoreFolder(join(root, 'link', 'd'), store, 'flag --store');
    expect(lock).toBeDefined();
    lock?.discard();
    expect(existsSync(join(root, 'real', 'e'))).toBe(false);
  });
});
