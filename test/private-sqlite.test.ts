/**
 * Issue 12 review: keys.db, access.db and readmodels.db each opened their file the same way (private folder and
 * file, WAL, pragmas, schema version check) in three copies; one opener serves them, each database keeping its own
 * durability level.
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openPrivateSqlite } from '../adapters/driven/files/index.ts';
import { openAccessRegistry } from '../adapters/driven/access/index.ts';
import { SqliteKeyRegistry } from '../adapters/driven/key-registry/index.ts';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { isCredenceError } from '../domain/errors.ts';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = (): string => {
  const dir = join(mkdtempSync(join(tmpdir(), 'credence-sqlite-')), 'data');
  dirs.push(join(dir, '..'));
  return dir;
};
const POSIX = process.platform !== 'win32';
const SCHEMA = { what: 'test database', version: 2, sql: 'CREATE TABLE IF NOT EXISTS t (x INTEGER)' };

describe('openPrivateSqlite', () => {
  it('makes the folder 0700 and the file 0600, in WAL, at the durability asked for, with the schema and its version', () => {
    const dir = scratch();
    const db = openPrivateSqlite({ dir }, { file: 'x.db', synchronous: 'FULL', schema: SCHEMA });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('user_version', { simple: true })).toBe(2);
      db.prepare('INSERT INTO t (x) VALUES (1)').run();
    } finally {
      db.close();
    }
    if (POSIX) {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'x.db')).mode & 0o777).toBe(0o600);
    }
    const again = openPrivateSqlite({ dir }, { file: 'x.db', synchronous: 'NORMAL', schema: SCHEMA });
    expect(again.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(again.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1 });
    again.close();
  });

  it('refuses a file a newer version wrote, naming the database, and leaves it closed', () => {
    const dir = scratch();
    openPrivateSqlite({ dir }, { file: 'x.db', synchronous: 'FULL', schema: { ...SCHEMA, version: 3 } }).close();
    expect(() => openPrivateSqlite({ dir }, { file: 'x.db', synchronous: 'FULL', schema: SCHEMA })).toThrow(
      'test database file has schema version 3, newer than this build supports (2)',
    );
    // Closed on the way out: the older version's file opens again, unchanged.
    const db = openPrivateSqlite({ dir }, { file: 'x.db', synchronous: 'FULL' });
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    db.close();
  });

  it.skipIf(!POSIX)('refuses a data folder others may write to, before creating anything in it', () => {
    const dir = scratch();
    openPrivateSqlite({ dir }, { file: 'x.db', synchronous: 'FULL' }).close();
    chmodSync(dir, 0o777);
    const refused = (() => {
      try {
        openPrivateSqlite({ dir }, { file: 'y.db', synchronous: 'FULL' });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(isCredenceError(refused, 'validation')).toBe(true);
    expect(() => statSync(join(dir, 'y.db'))).toThrow();
  });

  it('serves the access and key registries (private, schema versioned) and the read models (private, NORMAL)', () => {
    const dir = scratch();
    const access = openAccessRegistry({ dir });
    const keys = SqliteKeyRegistry.open({ dir });
    const readModels = openReadModels({ dir });
    try {
      expect(readModels.pragma('synchronous', { simple: true })).toBe(1n); // NORMAL; read models read integers as bigints
      // keys.db is at version 2 (the keys the shredder owes), access.db at 4 (the token each token was issued with, the signing keys and which signed each token, an integrator's scope).
      for (const [file, version] of [['access.db', 4], ['keys.db', 2]] as const) {
        const db = openPrivateSqlite({ dir }, { file, synchronous: 'FULL' });
        expect(db.pragma('user_version', { simple: true }), file).toBe(version);
        db.close();
      }
      if (POSIX) for (const file of ['access.db', 'keys.db', 'readmodels.db']) expect(statSync(join(dir, file)).mode & 0o777, file).toBe(0o600);
    } finally {
      access.close();
      keys.close();
      readModels.close();
    }
  });
});
