import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { lockDataFolder, openServiceSecureEnvironment } from '../adapters/runtime/index.ts';
import { tryLockDataFolder } from '../adapters/runtime/data-folder.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A kill while the KEK CREDENCE_KEK_FILE names was made left `.<kek>.<pid>.<random>.tmp` beside it, a whole KEK (or,
 * killed between link and unlink, a second name of it), and only the data folder's own temps were ever swept. Taking
 * the folder's lock now removes that one file's temps beside it too, by the same age and pid rules, and nothing
 * else in its folder.
 */
const scratch = temporaryFolders('credence-kek-strays-');
const now = () => new Date('2026-01-01T00:00:00Z');
const random = (n: number) => new Uint8Array(randomBytes(n));

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;

const KEK = 'credence.kek';
const OLD_STRAY = `.${KEK}.${DEAD_PID}.0123456789ab.tmp`;
/** Kept: new (another folder sharing the KEK may be writing it), or not this file's temp, or no temp name at all. */
const KEPT = [
  `.${KEK}.${DEAD_PID}.fedcba987654.tmp`, // fresh
  `.other.kek.${DEAD_PID}.0123456789ab.tmp`, // another file's temp in the same folder
  `.${KEK}.bak.${DEAD_PID}.0123456789ab.tmp`, // a name that only begins like it
  'notes.txt',
];

/** A data folder whose KEK was made outside it, and beside that KEK an hour-old stray, KEPT and a fresh temp. */
const folderWithKekStrays = (): { dir: string; kekFolder: string; env: { CREDENCE_KEK_FILE: string } } => {
  const dir = join(scratch(), 'data');
  const kekFolder = join(scratch(), 'secrets');
  mkdirSync(kekFolder, { mode: 0o700 });
  const env = { CREDENCE_KEK_FILE: join(kekFolder, KEK) };
  openServiceSecureEnvironment(dir, undefined, { now, random, env }).close();
  const anHourAgo = Date.now() / 1000 - 3600;
  for (const name of [OLD_STRAY, ...KEPT]) {
    writeFileSync(join(kekFolder, name), 'a whole KEK, say\n', { mode: 0o600 });
    if (name !== KEPT[0]) utimesSync(join(kekFolder, name), anHourAgo, anHourAgo);
  }
  return { dir, kekFolder, env };
};

const expectOnlyTheOldStrayGone = (kekFolder: string): void => {
  expect(readdirSync(kekFolder).sort()).toEqual([KEK, ...KEPT].sort());
};

describe('a KEK kept outside the data folder (CREDENCE_KEK_FILE)', () => {
  it('loses the old temp of that one file a kill left beside it when the folder is locked; fresh temps and other files stay', () => {
    const { dir, kekFolder, env } = folderWithKekStrays();
    const lock = lockDataFolder(dir, env);
    try {
      expect(lock.removedStrays).toEqual([join(kekFolder, OLD_STRAY)]);
    } finally {
      lock.release();
    }
    expectOnlyTheOldStrayGone(kekFolder);
    // The KEK itself still opens the folder.
    openServiceSecureEnvironment(dir, undefined, { now, random, env }).close();
  });

  it('loses it too under the lock a command that can go on without it takes (tryLockDataFolder)', () => {
    const { dir, kekFolder, env } = folderWithKekStrays();
    const taken = tryLockDataFolder(dir, [], env);
    if (!('lock' in taken)) throw new Error('the folder should be free');
    taken.lock.release();
    expect(taken.lock.removedStrays).toEqual([join(kekFolder, OLD_STRAY)]);
    expectOnlyTheOldStrayGone(kekFolder);
  });

  it('loses it when a local command (credence key list) takes the lock, which names it on stderr', async () => {
    const { dir, kekFolder, env } = folderWithKekStrays();
    const c = capture();
    const code = await main(['key', 'list', '--data', dir], { ...c.io, env });
    expect(code, c.err.join('\n')).toBe(0);
    expectOnlyTheOldStrayGone(kekFolder);
    expect(c.err.join('\n')).toContain(join(kekFolder, OLD_STRAY));
    expect(c.err.join('\n')).not.toContain('a whole KEK');
  });

  it('is not swept beside when the opening refuses it (its folder writable by others: not only ours to clean)', () => {
    const { dir, kekFolder, env } = folderWithKekStrays();
    chmodSync(kekFolder, 0o777);
    const lock = lockDataFolder(dir, env);
    lock.release();
    expect(lock.removedStrays).toEqual([]);
    expect(existsSync(join(kekFolder, OLD_STRAY))).toBe(true);
  });
});
