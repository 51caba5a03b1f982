import { copyFileSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import {
  DEFAULT_LOG_ORIGIN,
  LOG_KEY_OWNER,
  openSecureEnvironmentSignerInDir,
  openTransparencyInDir,
  openTransparencyLogInDir,
} from '../adapters/driven/transparency/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
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
  // Its key a file, as a program without a Secure Environment makes it: an export makes none (review 134).
  openTransparencyInDir(dir).log.close();
  const c = capture();
  expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'a.json'), '--data', dir], c.io), c.err.join('\n')).toBe(0);
  return dir;
};

describe('the transparency key of a log that holds signed checkpoints', () => {
  it('is not made afresh when its file is missing: the open is refused and nothing is written', async () => {
    const dir = await signedFolder();
    const pub = readFileSync(join(dir, 'transparency.pub'), 'utf8');
    unlinkSync(join(dir, 'transparency.key'));
    expect(() => openTransparencyInDir(dir)).toThrow(/transparency\.key is missing, but the transparency log beside it holds checkpoints signed with its key: restore it/);
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

  it('is not made afresh in a Secure Environment either, nor is a signer given that did not sign it used', async () => {
    const dir = await signedFolder();
    const pub = readFileSync(join(dir, 'transparency.pub'), 'utf8');
    const se = memorySecureEnvironment('transparency-log-key', () => new Date('2026-01-01T00:00:00.000Z')).forOwner(LOG_KEY_OWNER);
    const log = openTransparencyLogInDir(dir);
    const signed = log.latestCheckpoint()!.note;
    log.close();
    await expect(openSecureEnvironmentSignerInDir(dir, se, DEFAULT_LOG_ORIGIN, signed)).rejects.toThrow(/transparency\.handle is missing, but the transparency log beside it holds checkpoints/);
    expect(existsSync(join(dir, 'transparency.handle'))).toBe(false);
    // A Secure Environment key of a folder without a log, given to this one.
    const elsewhere = await openSecureEnvironmentSignerInDir(dirs.make(), se, DEFAULT_LOG_ORIGIN);
    expect(() => openTransparencyInDir(dir, { signer: elsewhere })).toThrow(/the transparency signer given \(credence\.local\/log\) did not sign the latest checkpoint/);
    expect(readFileSync(join(dir, 'transparency.pub'), 'utf8')).toBe(pub);
  });

  it('opens with its own key', async () => {
    const dir = await signedFolder();
    const opened = openTransparencyInDir(dir);
    opened.log.close();
  });
});
