import { copyFileSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyInDir } from '../adapters/driven/transparency/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * Found in review: with transparency.key missing beside a log that holds signed checkpoints, opening the log made a
 * new key and overwrote transparency.pub: the log's identity forked (the next checkpoint signed the whole old history
 * with the new key, and an audit without a pinned key passed). Another key put in its place was used the same way.
 * Now the key must be the one that signed the log's latest checkpoint, and nothing is written before that is checked.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signedFolder = async (): Promise<string> => {
  const dir = dirs.make();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 4);
  await store.close();
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'a.json'), '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return dir;
};

describe('the transparency key of a log that holds signed checkpoints', () => {
  it('is not made afresh when its file is missing: the open is refused and nothing is written', async () => {
    const dir = await signedFolder();
    const pub = readFileSync(join(dir, 'transparency.pub'), 'utf8');
    unlinkSync(join(dir, 'transparency.key'));
    expect(() => openTransparencyInDir(dir)).toThrow(/transparency\.key is missing, but the transparency log beside it holds checkpoints signed with it: restore it/);
    expect(existsSync(join(dir, 'transparency.key'))).toBe(false);
    expect(readFileSync(join(dir, 'transparency.pub'), 'utf8')).toBe(pub);
  });

  it('is not replaced by another key: the open is refused and transparency.pub stays', async () => {
    const dir = await signedFolder();
    const other = await signedFolder();
    const pub = readFileSync(join(dir, 'transparency.pub'), 'utf8');
    copyFileSync(join(other, 'transparency.key'), join(dir, 'transparency.key'));
    expect(() => openTransparencyInDir(dir)).toThrow(/did not sign the latest checkpoint of the transparency log beside it/);
    expect(readFileSync(join(dir, 'transparency.pub'), 'utf8')).toBe(pub);
  });

  it('opens with its own key', async () => {
    const dir = await signedFolder();
    const opened = openTransparencyInDir(dir);
    opened.log.close();
  });
});
