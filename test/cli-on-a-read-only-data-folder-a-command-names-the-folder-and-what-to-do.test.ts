import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asRoot, canDropCapabilities, credenceWithoutCapabilities as credence, readOnlyCopiesOfAStoppedFolder, snapshot } from './support/read-only-folder.ts';

/*
 * Review 81's remainder (left by the fix of a-read-command-on-a-folder-it-may-not-write-names-the-file-sqlite-cannot-read):
 * on a data folder this account may not write, `export` failed exit 1 naming nothing, `key list` and `key destroy`
 * with a bare EACCES on the folder lock's temp file, and `token list` beside an -shm with SQLite's bare "attempt to
 * write a readonly database". Each is now refused as a data folder unusable here (exit 2), naming the folder or the
 * file and what to do, and writes nothing.
 *
 * Run as root, the commands run without capabilities (setpriv empties the bounding set), so they obey the modes as
 * any account does (as in that test).
 */

describe.skipIf(asRoot && !canDropCapabilities)('a command on a data folder this account may not write', () => {
  const folder = readOnlyCopiesOfAStoppedFolder('credence-read-only-cli-');
  const { copyOf } = folder;

  const refusals: readonly (readonly [string, (dir: string) => string[], readonly string[]])[] = [
    [
      'export',
      (dir) => ['export', 'node-meter-1', '--out', join(folder.scratch(), `bundle-of-${basename(dir)}.json`), '--data', dir],
      ['a local export writes the folder\'s transparency log', 'export from a copy of the folder in storage this account may write (cp -a), or ask the service (--server URL)'],
    ],
    ['key list', (dir) => ['key', 'list', '--data', dir], ["this command takes the folder's lock in it", 'a command that only reads it (key list) may run on a copy']],
    [
      'key destroy',
      (dir) => ['key', 'destroy', '--owner', 'credence:access', '--handle', `key_${'A'.repeat(24)}`, '--data', dir],
      ["this command takes the folder's lock in it", 'run it as an account that may write'],
    ],
  ];

  it.each(refusals.map(([name, argv, says]) => ({ name, argv, says })))(
    '$name is refused naming the folder, why and what to do (exit 2), and writes nothing',
    ({ name, argv, says }) => {
      const copy = copyOf(`copy-${name.replace(/[^a-z]/g, '-')}`);
      const before = snapshot(copy);
      const run = credence(argv(copy));
      expect(run.said).not.toMatch(/EACCES: permission denied|readonly database|\.tmp/);
      expect(run.said).toContain(`--data: ${copy} is not writable by this account (EACCES)`);
      for (const words of says) expect(run.said).toContain(words);
      expect(run.code, run.said).toBe(2);
      expect(snapshot(copy)).toEqual(before);
    },
    120_000,
  );

  it('token list beside an -shm it cannot write is refused naming access.db (exit 2), and writes nothing', () => {
    const copy = copyOf('copy-token-list-shm', (dir) => writeFileSync(join(dir, 'access.db-shm'), Buffer.alloc(32768), { mode: 0o600 }));
    const before = snapshot(copy);
    const run = credence(['token', 'list', '--data', copy]);
    expect(run.said).not.toContain('readonly database');
    expect(run.said).toContain(`${join(copy, 'access.db')} cannot be opened here: ${copy} is not writable by this account`);
    expect(run.said).toContain('run the command as an account that may write');
    expect(run.code, run.said).toBe(2);
    expect(snapshot(copy)).toEqual(before);
  }, 120_000);
});
