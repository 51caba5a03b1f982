/**
 * Review 377 #2: the discard of a folder lock on a folder that was there and held no data-folder files swept whatever
 * looked like one added since the lock was taken: any `*.db`, anything named `pki` or `devices`, another program's
 * too. A folder holding only .bashrc was locked; meanwhile another program wrote notes.db and
 * devices/my-phone-backup.bin; the discard removed both. It now removes only the names Credence makes, and `pki/` and
 * `devices/` only when they hold nothing but Credence's own files.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataFolder } from '../adapters/driven/files/data-folder-lock.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-discard-sweeps-only-ours-');

const write = (path: string, text = 'x'): void => {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600 });
};

/** A folder that was there, holding only `.bashrc` when locked. */
const lockedHome = (): { dir: string; discard: () => void } => {
  const dir = join(scratch(), 'home');
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, '.bashrc'), 'export PS1', { mode: 0o600 });
  const lock = lockDataFolder(dir);
  return { dir, discard: () => lock.discard() };
};

describe('the discard of a lock on a folder that held no data-folder files', () => {
  it("leaves another program's notes.db and devices/ backup it wrote meanwhile (the reviewer's case)", () => {
    const { dir, discard } = lockedHome();
    write(join(dir, 'notes.db'), 'mine');
    write(join(dir, 'devices', 'my-phone-backup.bin'), 'mine');
    discard();
    expect(readdirSync(dir).sort()).toEqual(['.bashrc', 'devices', 'notes.db']);
    expect(readdirSync(join(dir, 'devices'))).toEqual(['my-phone-backup.bin']);
  });

  it('removes every file a start makes, with their journals, and pki/ and devices/ holding only its own files', () => {
    const { dir, discard } = lockedHome();
    const ours = [
      ...['events.db', 'keys.db', 'access.db', 'readmodels.db', 'transparency.db', 'replay-cache.db'].flatMap((db) => [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]),
      'secure-environment.sqlite',
      'secure-environment.sqlite-wal',
      'secure-environment.sqlite-shm',
      'secure-environment.kek',
      'secure-environment.wrapping-keys',
      'transparency.handle',
      'transparency.key',
      'transparency.pub',
      'first-event.json',
      'replay-checkpoint.json',
    ];
    for (const name of ours) write(join(dir, name));
    for (const name of ['root.ca.json', 'root.ocsp.json', 'root.crl-number.json', 'root.crl-base.json', 'root.published.jsonl', 'root.issued.jsonl']) {
      write(join(dir, 'pki', name));
    }
    write(join(dir, 'devices', 'meter-1', 'device.json'));
    write(join(dir, 'devices', 'meter-1', 'secure-environment.sqlite'));
    discard();
    expect(readdirSync(dir)).toEqual(['.bashrc']);
  });

  it('leaves names that only look like its own, and a pki/ or devices/ that holds anything else', () => {
    const { dir, discard } = lockedHome();
    const theirs = ['notes.db-wal', 'events.db.bak', 'secure-environment.notes', 'transparency.txt', 'first-event.json.orig', 'cache.sqlite'];
    for (const name of theirs) write(join(dir, name));
    write(join(dir, 'events.db'));
    write(join(dir, 'pki', 'root.ca.json'));
    write(join(dir, 'pki', 'my-own-ca.pem'));
    write(join(dir, 'devices', 'meter-1', 'device.json'));
    write(join(dir, 'devices', 'meter-1', 'photo.jpg'));
    discard();
    expect(readdirSync(dir).sort()).toEqual(['.bashrc', 'devices', 'pki', ...theirs].sort());
    expect(readdirSync(join(dir, 'pki')).sort()).toEqual(['my-own-ca.pem', 'root.ca.json']);
    expect(readdirSync(join(dir, 'devices', 'meter-1')).sort()).toEqual(['device.json', 'photo.jpg']);
  });
});
