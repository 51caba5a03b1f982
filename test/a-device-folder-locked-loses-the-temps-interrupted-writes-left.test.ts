import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDeviceFolder } from '../bin/commands/device/folder-lock.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A kill during a `credence device` command's atomic write left `.<name>.<pid>.<random>.tmp` in the device folder for
 * good (`.secure-environment.kek.…tmp` a whole KEK of the device's own Secure Environment): only data folders were
 * swept. Every command that writes a device folder holds its lock, so taking it now removes them, by the data folder's
 * rules (five minutes old, their pid not running).
 */
const scratch = temporaryFolders('credence-device-strays-');

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;

const STRAYS = [`.secure-environment.kek.${DEAD_PID}.0123456789ab.tmp`, `.device.json.${DEAD_PID}.a1b2c3d4e5f6.tmp`];
/** Kept: new (maybe another PID namespace's write in flight), no temp name, or not in the folder itself. */
const FRESH = `.device.json.${DEAD_PID}.fedcba987654.tmp`;
const KEPT = [FRESH, 'notes.txt', `.device.json.${DEAD_PID}.tmp`, join('sub', `.notes.${DEAD_PID}.0123456789ab.tmp`)];

describe('a device folder, locked by a credence device command', () => {
  it('loses the old temps interrupted writes left in it, named; fresh temps and other files stay', () => {
    const dir = join(scratch(), 'device');
    mkdirSync(join(dir, 'sub'), { recursive: true, mode: 0o700 });
    const anHourAgo = Date.now() / 1000 - 3600;
    for (const name of [...STRAYS, ...KEPT]) {
      writeFileSync(join(dir, name), 'a whole KEK, say\n', { mode: 0o600 });
      if (name !== FRESH) utimesSync(join(dir, name), anHourAgo, anHourAgo);
    }
    const lock = lockDeviceFolder(dir);
    try {
      expect([...lock.removedStrays].sort()).toEqual([...STRAYS].sort());
    } finally {
      lock.release();
    }
    const left = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => !name.startsWith('device-lock.db'));
    expect(left.sort()).toEqual(['sub', ...KEPT].sort());
    // Locked again: nothing more to remove.
    const again = lockDeviceFolder(dir);
    again.release();
    expect(again.removedStrays).toEqual([]);
  });
});
