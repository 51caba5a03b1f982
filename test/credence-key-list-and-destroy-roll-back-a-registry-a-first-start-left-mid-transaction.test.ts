import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCESS_DB_FILE } from '../adapters/driven/access/index.ts';
import { boundHandles } from '../adapters/driven/key-registry/bound-handles.ts';
import { signingKeyHandles } from '../adapters/driven/access/signing-key-handles.ts';
import { KEY_REGISTRY_DB_FILE } from '../adapters/driven/key-registry/index.ts';
import { ACCESS_OWNER } from '../adapters/http/auth/open-access-control.ts';
import { runCli } from './support/cli.ts';
import { isHeld, withDataFolderSe } from './support/key-held.ts';
import type { KeyHandle } from '../domain/ports/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A zero-length keys.db or access.db an earlier version left, whose first schema transaction a kill interrupted, holds
 * a hot rollback journal, which a read-only connection cannot roll back. The service's start reads keys.db with one
 * writable open first (registry-tables.ts); `credence key list` and `key destroy`, which read both files read-only,
 * failed with SQLite's bare SQLITE_READONLY_ROLLBACK. Every read-only read of the folder's records rolls it back now
 * (read-only-database.ts), to the empty file it was: an empty access.db names no key; an empty keys.db is refused as
 * damaged, as before (a truncated one looks the same), naming the first start's remedy too.
 */
const scratch = temporaryFolders('credence-key-list-hot-journal-');

/**
 * `file` in `dir` as a kill inside its first schema transaction leaves it: made zero-length, pages of the
 * transaction spilled into it and its -journal beside it (copied while the transaction is open, then abandoned).
 */
const leaveHotJournal = (dir: string, file: string, table: string): void => {
  const making = mkdtempSync(join(tmpdir(), 'credence-hot-journal-'));
  try {
    writeFileSync(join(making, file), '', { mode: 0o600 });
    const db = new Database(join(making, file));
    try {
      db.pragma('cache_size = 1'); // pages spill into the file before the commit, as a kill in the commit leaves them
      db.exec(`BEGIN IMMEDIATE; CREATE TABLE ${table} (a); CREATE TABLE spilled (b)`);
      const insert = db.prepare(`INSERT INTO spilled (b) VALUES (?)`);
      for (let i = 0; i < 200; i++) insert.run('x'.repeat(1000));
      for (const name of readdirSync(making)) copyFileSync(join(making, name), join(dir, name));
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  } finally {
    rmSync(making, { recursive: true, force: true });
  }
  expect(existsSync(join(dir, `${file}-journal`))).toBe(true);
  expect(statSync(join(dir, file)).size).toBeGreaterThan(0);
};

/** A data folder with one access signing key (a token made), its access.db then as a killed first start left it. */
const folderWithHotAccessDb = async () => {
  const dir = join(scratch(), 'data');
  const issued = await runCli(['token', 'create', '--data', dir, '--role', 'admin', '--subject', 'ops', '--ttl', '1h']);
  expect(issued.code, issued.err).toBe(0);
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `${ACCESS_DB_FILE}${suffix}`), { force: true });
  leaveHotJournal(dir, ACCESS_DB_FILE, 'settings');
  return dir;
};

describe('a keys.db or access.db left with a hot rollback journal by a first start killed in its schema transaction', () => {
  it('is rolled back by the read-only readers of key list and key destroy, to the empty file it was', () => {
    const dir = scratch();
    leaveHotJournal(dir, KEY_REGISTRY_DB_FILE, 'se_key_handles');
    leaveHotJournal(dir, ACCESS_DB_FILE, 'settings');

    // An empty access.db names no key; an empty keys.db stays refused (a truncated one looks the same), typed, by name,
    // its remedy naming the first start that stopped.
    expect(signingKeyHandles(dir)).toEqual([]);
    let refused: unknown;
    try {
      boundHandles(dir, new Set(['handle-1']));
    } catch (error) {
      refused = error;
    }
    expect(isCredenceError(refused, 'damaged_database')).toBe(true);
    expect((refused as Error).message).toContain(`the database ${join(dir, KEY_REGISTRY_DB_FILE)} is damaged (no se_key_handles table in an empty file`);
    expect((refused as Error).message).toContain('only if this data folder\'s first start stopped before making it (no key was bound yet), start the service once');

    // Rolled back to the zero-length file the transaction started from, which the registries' openers make whole.
    for (const file of [KEY_REGISTRY_DB_FILE, ACCESS_DB_FILE]) {
      expect(existsSync(join(dir, `${file}-journal`)), file).toBe(false);
      expect(statSync(join(dir, file)).size, file).toBe(0);
    }
  });

  it('credence key list lists the folder\'s keys (exit 0), never failing with SQLITE_READONLY_ROLLBACK', async () => {
    const dir = await folderWithHotAccessDb();
    leaveHotJournal(dir, KEY_REGISTRY_DB_FILE, 'se_key_handles');

    const listed = await runCli(['key', 'list', '--data', dir, '--owner', ACCESS_OWNER]);

    expect(listed.code, listed.err).toBe(0);
    expect(listed.err).not.toContain('SQLITE_READONLY_ROLLBACK');
    // access.db rolled back names no key: the one the token was signed with is left unnamed, as a new folder's would be.
    expect(listed.out).toMatch(new RegExp(`^\\S+ ${ACCESS_OWNER} .* unnamed$`, 'm'));

    // An infrastructure key is checked against keys.db, now empty: refused by name (exit 1), never raw SQLite.
    await withDataFolderSe(dir, 'maf:infrastructure', (se) => se.generate('ed25519'));
    const infrastructure = await runCli(['key', 'list', '--data', dir, '--owner', 'maf:infrastructure']);
    expect(infrastructure.code, infrastructure.err).toBe(1);
    expect(infrastructure.err).toContain(`the database ${join(dir, KEY_REGISTRY_DB_FILE)} is damaged (no se_key_handles table in an empty file`);
    expect(infrastructure.err).not.toContain('SQLITE_READONLY_ROLLBACK');
  }, 60_000);

  it('credence key destroy checks the rolled-back registries and destroys a key nothing names', async () => {
    const dir = await folderWithHotAccessDb();
    leaveHotJournal(dir, KEY_REGISTRY_DB_FILE, 'se_key_handles');
    const left = await withDataFolderSe(dir, ACCESS_OWNER, (se) => se.generate('ed25519'));

    const destroyed = await runCli(['key', 'destroy', '--data', dir, '--owner', ACCESS_OWNER, '--handle', left]);

    expect(destroyed.code, destroyed.err).toBe(0);
    expect(destroyed.err).not.toContain('SQLITE_READONLY_ROLLBACK');
    expect(await withDataFolderSe(dir, ACCESS_OWNER, (se) => isHeld(se, left as KeyHandle))).toBe(false);
  }, 60_000);
});
