import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { asRoot, canDropCapabilities, credenceWithoutCapabilities as credence, readOnlyCopiesOfAStoppedFolder, snapshot } from './support/read-only-folder.ts';

/*
 * Review 81, finding 2: on a copy of a cleanly stopped data folder made read-only (`chmod -R u-w`, a read-only mount),
 * every command that reads it failed with SQLite's "attempt to write a readonly database", naming no file, exit 1
 * (`verify --data` exit 2, naming transparency.db, though the README said both files are opened read-only). SQLite
 * must make the -shm of a WAL database to read it, even on a read-only connection; where it cannot, the command now
 * refuses before any opening, naming the file, the rule and what to do, as a data folder unusable here: exit 2.
 *
 * Modes bind no root with its capabilities: run as root, the commands run as root without any (setpriv empties the
 * bounding set), so they obey the modes as any account does, and still read this checkout wherever it is (a clean clone
 * in a 0700 folder is no other account's to read).
 */

describe.skipIf(asRoot && !canDropCapabilities)('a command that only reads a data folder this account may not write', () => {
  const folder = readOnlyCopiesOfAStoppedFolder('credence-read-only-folder-');
  const { copyOf } = folder;
  beforeAll(() => {
    expect(readdirSync(folder.stopped()).filter((name) => /-(wal|shm|journal)$/.test(name))).toEqual([]);
  });

  const commands: readonly (readonly [string, (dir: string) => string[], string])[] = [
    ['history', (dir) => ['history', 'node-meter-1', '--data', dir], 'events.db'],
    ['replay', (dir) => ['replay', '--data', dir], 'events.db'],
    ['state', (dir) => ['state', 'node-meter-1', '--at', '2100-01-01T00:00:00Z', '--data', dir], 'events.db'],
    ['query', (dir) => ['query', 'revocations', '--data', dir], 'events.db'],
    ['projections status', (dir) => ['projections', 'status', '--data', dir], 'events.db'],
    ['token list', (dir) => ['token', 'list', '--data', dir], 'access.db'],
    ['verify --data', (dir) => ['verify', '--data', dir], 'events.db'],
  ];

  it.each(commands.map(([name, argv, file]) => ({ name, argv, file })))(
    '$name on a copy of a cleanly stopped folder is refused naming $file, why and what to do (exit 2), and writes nothing',
    ({ name, argv, file }) => {
      const copy = copyOf(`copy-${name.replace(/[^a-z]/g, '-')}`);
      const before = snapshot(copy);
      const run = credence(argv(copy));
      expect(run.said).not.toContain('attempt to write a readonly database');
      expect(run.said).toContain(`${join(copy, file)} cannot be read here: it is a WAL database without its ${file}-shm`);
      expect(run.said).toContain(`${copy} is not writable by this account`);
      expect(run.said).toContain('copy the folder to storage this account may write');
      expect(run.code, run.said).toBe(2);
      expect(snapshot(copy)).toEqual(before);
    },
    120_000,
  );

  it('reads a read-only copy that holds the -wal and -shm a killed service left: SQLite reads those without writing', () => {
    const copy = copyOf('copy-with-wal', (dir) => {
      // A connection left open at exit, as a kill leaves one: its -wal and -shm stay beside the file.
      const db = new Database(join(dir, 'events.db'));
      db.prepare('SELECT count(*) FROM events').get();
      cpSync(join(dir, 'events.db-wal'), join(dir, 'kept-wal'));
      cpSync(join(dir, 'events.db-shm'), join(dir, 'kept-shm'));
      db.close();
      cpSync(join(dir, 'kept-wal'), join(dir, 'events.db-wal'));
      cpSync(join(dir, 'kept-shm'), join(dir, 'events.db-shm'));
      rmSync(join(dir, 'kept-wal'));
      rmSync(join(dir, 'kept-shm'));
    });
    const before = snapshot(copy);
    const run = credence(['history', 'node-meter-1', '--data', copy]);
    expect(run.code, run.said).toBe(0);
    expect(run.said).toContain('NodeRegistered');
    expect(snapshot(copy)).toEqual(before);
  }, 120_000);
});
