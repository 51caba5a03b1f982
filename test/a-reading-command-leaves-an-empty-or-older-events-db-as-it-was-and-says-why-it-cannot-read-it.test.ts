import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 177: a command that only reads a store (query, history: README's restore step 4 on `<data>.before-restore`)
 * opened it with query_only switched off while the store checked its schema, so a zero-byte events.db (a first start
 * killed before its store was made) had the whole schema written into it, and an events.db of user_version 0 was
 * upgraded to 1. Read-only, the store refuses both, typed and saying what it found, exit 2 as a folder with no store.
 */
const folder = temporaryFolders('credence-read-unprepared-');

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env: {} });
  return { code, err: c.err.join('\n') };
};

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const userVersion = (file: string): number => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.pragma('user_version', { simple: true }));
  } finally {
    db.close();
  }
};
const snapshot = (dir: string) => ({
  files: readdirSync(dir).sort(),
  sha: sha256(join(dir, 'events.db')),
  size: readFileSync(join(dir, 'events.db')).length,
  version: userVersion(join(dir, 'events.db')),
});

/** A data folder whose events.db is `make`'s, the folder and file as private as Credence keeps them. */
const folderWith = (make: (file: string) => void): string => {
  const dir = folder();
  chmodSync(dir, 0o700);
  const file = join(dir, 'events.db');
  make(file);
  chmodSync(file, 0o600);
  return dir;
};

const emptyFile = (file: string): void => writeFileSync(file, '');

/** An events table as a layout before user_version was kept would hold it, user_version 0, not in WAL. */
const olderLayout = (file: string): void => {
  const db = new Database(file);
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, command_id TEXT)`);
  db.close();
};

const reads = (dir: string): [string, string[]][] => [
  ['query', ['query', 'revocations', '--store', `sqlite:${dir}`, '--data', folder()]],
  ['history', ['history', 'node-meter-1', '--data', dir]],
];

/**
 * Runs the reading command `name` on a folder whose events.db `make` wrote: it leaves the file byte for byte as it was,
 * exits 2 and names the file. What the file was, and what the command said, for each case's own checks.
 */
const readRefused = async (name: string, make: Parameters<typeof folderWith>[0]) => {
  const dir = folderWith(make);
  const before = snapshot(dir);
  const argv = reads(dir).find(([n]) => n === name)![1];
  const result = await cli(argv);
  expect(snapshot(dir)).toEqual(before);
  expect(result.code, result.err).toBe(2);
  expect(result.err).toContain(join(dir, 'events.db'));
  return { before, result };
};

describe('a reading command on an events.db it cannot read without writing it', () => {
  it.each(reads(''))('%s leaves a zero-byte events.db byte for byte as it was and says no event store is there (exit 2)', async (name) => {
    const { before, result } = await readRefused(name, emptyFile);
    expect(before.size).toBe(0);
    expect(result.err).toMatch(/empty.*no event store/);
  });

  it.each(reads(''))('%s leaves an events.db of user_version 0 as it was and says to upgrade it by a writing start, on a copy (exit 2)', async (name) => {
    const { before, result } = await readRefused(name, olderLayout);
    expect(before.version).toBe(0);
    expect(result.err).toContain('schema version 0, older than');
    expect(result.err).toContain('on a copy');
  });
});
