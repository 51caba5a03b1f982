import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 298 item 4: a config file that could not be read said only "file X: cannot be read", whether it did not exist,
 * was a folder or was not permitted: the operator was left to find out which.
 */
const scratch = temporaryFolders('credence-config-unreadable-');

const refusalOf = (file: string): string => {
  try {
    loadServiceConfig({ file });
  } catch (error) {
    return JSON.stringify((error as { problem: unknown }).problem);
  }
  throw new Error('accepted');
};

describe('a config file that cannot be read says why', () => {
  it('one that does not exist', () => {
    const file = join(scratch(), 'missing.json');
    expect(refusalOf(file)).toContain(`"path":"file ${file}","rule":"readable","message":"cannot be read: it does not exist (ENOENT)"`);
  });

  it('one that is a folder', () => {
    const file = join(scratch(), 'folder.json');
    mkdirSync(file);
    expect(refusalOf(file)).toContain('"message":"cannot be read: it is a folder (EISDIR)"');
  });

  it('one under a path part that is a file', () => {
    const file = join(scratch(), 'afile');
    writeFileSync(file, '{}');
    expect(refusalOf(join(file, 'credence.json'))).toContain('"message":"cannot be read: a part of its path is not a folder (ENOTDIR)"');
  });

  it.skipIf(process.getuid?.() === 0)('one this account may not read', () => {
    const file = join(scratch(), 'private.json');
    writeFileSync(file, '{}');
    chmodSync(file, 0o000);
    expect(refusalOf(file)).toContain('"message":"cannot be read: permission denied (EACCES)"');
  });
});
