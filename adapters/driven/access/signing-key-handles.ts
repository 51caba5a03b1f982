import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { damagedDatabase, validationError } from '../../../domain/errors.ts';
import { remedyFor } from '../files/damaged-database.ts';
import { readOnlyDatabase } from '../files/read-only-database.ts';
import { ACCESS_DB_FILE, LEGACY_SIGNING_KEY_SETTING, type SigningKeyRecord } from './sqlite-access-registry.ts';

/**
 * The newest version of access.db's schema (access-schema.ts) this reader was written for: a newer file may keep its
 * keys where it does not look. Not imported from there, on purpose: a test reads a file the registry makes, so raising
 * that version without reviewing this reader (and raising this one) fails it.
 */
const NEWEST_READ = 4;

const hasTable = (db: Database.Database, name: string): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;

const keysOf = (db: Database.Database, path: string): readonly Pick<SigningKeyRecord, 'handle' | 'retiredAt'>[] => {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > NEWEST_READ) {
    const message = `schema version ${version}, newer than ${NEWEST_READ}, the newest this version reads: which keys it names is unknown`;
    throw validationError([{ path, rule: 'schema_version', message }], 'access registry');
  }
  if (hasTable(db, 'signing_keys')) {
    const rows = db.prepare(`SELECT handle, retired_at FROM signing_keys ORDER BY seq`).all() as { handle: string; retired_at: string | null }[];
    return rows.map((r) => ({ handle: r.handle, ...(r.retired_at === null ? {} : { retiredAt: new Date(r.retired_at) }) }));
  }
  const damaged = (detail: string, remedy = remedyFor(ACCESS_DB_FILE)) =>
    damagedDatabase(path, ACCESS_DB_FILE, `${detail}: which keys it names is unknown`, remedy);
  if (version >= 3) throw damaged('no signing_keys table');
  if (!hasTable(db, 'settings')) {
    // Only an empty file is one made whose schema was never written (the registry writes it at its next open). Any
    // other file without the table (another SQLite database restored in its place, a copy made without its -wal) may
    // name the live key where this cannot read it: called none, `key destroy` would destroy it (review 65).
    const objects = (db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number }).n;
    if (version === 0 && objects === 0 && statSync(path).size === 0) return [];
    if (objects > 0) throw damaged('no settings table');
    // The same page an earlier version's first open left when it stopped between its journal mode and its schema
    // (nothing was in it then); this one makes the file whole or not at all (private-sqlite.ts).
    throw damaged(
      "no table at all: a copy made without its -wal, or a file whose first open stopped before its schema (an earlier version's)",
      `if its -wal is elsewhere (a copy), bring it back beside it; only if the service never finished making it, move it aside (with its -wal and -shm) and start again, as nothing was in it; otherwise: ${remedyFor(ACCESS_DB_FILE)}`,
    );
  }
  // The key of a file from before version 3 is its current one, as the registry's upgrade makes it.
  const kept = db.prepare(`SELECT value FROM settings WHERE name = ?`).get(LEGACY_SIGNING_KEY_SETTING) as { value: string } | undefined;
  return kept === undefined ? [] : [{ handle: kept.value }];
};

/**
 * Every signing key `<dataDir>/access.db` keeps (the current one, and the retired ones not destroyed yet), oldest
 * first, read-only: for a command that reads the folder's records and must change none of them. The registry's own
 * opener would write (its journal mode, its schema, the upgrade of a file an older version wrote); a file of any
 * version up to this one's is read as that version left it. None when there is no access.db.
 */
export const signingKeyHandles = (dataDir: string): readonly Pick<SigningKeyRecord, 'handle' | 'retiredAt'>[] => {
  const path = join(dataDir, ACCESS_DB_FILE);
  if (!existsSync(path)) return [];
  return readOnlyDatabase(path, (db) => keysOf(db, path));
};
