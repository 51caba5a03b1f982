import type Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { damagedDatabase, validationError } from '../../../domain/errors.ts';
import { remedyFor } from '../files/damaged-database.ts';
import { readOnlyDatabase } from '../files/read-only-database.ts';
import { KEY_REGISTRY_DB_FILE } from './sqlite-key-registry.ts';

/** sqlite-key-registry.ts's table; an earlier version kept it in readmodels.db, moved into keys.db at the next open. */
const TABLE = 'se_key_handles';
const LEGACY_DB_FILE = 'readmodels.db';

/**
 * The newest version of keys.db's schema (sqlite-key-registry.ts) this reader was written for: a newer file may bind
 * keys where it does not look, and called unbound, `key destroy` would destroy them (review 81: it was read as any).
 * Not imported from there, on purpose, as signing-key-handles.ts does for access.db: the registry's own files are read
 * here by the tests, so raising its version without reviewing this reader (and raising this one) fails them.
 */
const NEWEST_READ = 2;

const refuseNewer = (db: Database.Database, path: string): void => {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version <= NEWEST_READ) return;
  const message = `schema version ${version}, newer than ${NEWEST_READ}, the newest this version reads: a newer version of Credence wrote it, and which keys it binds is unknown`;
  throw validationError([{ path, rule: 'schema_version', message }], 'key registry');
};

/** The entity a registry binding gives a key to, and the database that says so. */
export interface BoundHandle {
  readonly stream: string;
  readonly purpose: string;
  readonly file: string;
}

/**
 * keys.db without its table. An empty one is also what a first start stopped before its schema leaves (an earlier
 * version's, or one whose first transaction a kill interrupted, rolled back by readOnlyDatabase), when nothing was
 * bound yet; a file truncated looks the same, so it is refused all the same, its remedy naming both.
 */
const lostBindings = (path: string): Error => {
  const empty = statSync(path).size === 0;
  const remedy = empty
    ? `${remedyFor(KEY_REGISTRY_DB_FILE)}; only if this data folder's first start stopped before making it (no key was bound yet), start the service once: it makes the file`
    : remedyFor(KEY_REGISTRY_DB_FILE);
  return damagedDatabase(path, KEY_REGISTRY_DB_FILE, `no ${TABLE} table${empty ? ' in an empty file' : ''}: which keys it binds is unknown`, remedy);
};

/**
 * The bindings of the folder's key registry that still hold any of `handles`, or every one when `handles` is not
 * given (not destroyed: current, pending, or owed by the shredder), each file opened once and read-only: for `credence
 * key list`, the commands that must not destroy a key the infrastructure uses or will destroy itself, and the refusal
 * to open a folder whose keys keys.db alone names with a Secure Environment it has none of. The registry's own reader has no lookup by handle,
 * and opening it would write (its schema, a legacy move). The table has no index on the handle alone, so it is
 * read through once rather than searched once per key; a file is not read once every handle is found.
 */
export const boundHandles = (dataDir: string, handles?: ReadonlySet<string>): ReadonlyMap<string, BoundHandle> => {
  const bound = new Map<string, BoundHandle>();
  const allFound = (): boolean => handles !== undefined && bound.size === handles.size;
  for (const file of [KEY_REGISTRY_DB_FILE, LEGACY_DB_FILE]) {
    const path = join(dataDir, file);
    if (allFound()) break;
    if (!existsSync(path)) continue;
    readOnlyDatabase(path, (db) => {
      // readmodels.db's version is its read models', not the registry's.
      if (file === KEY_REGISTRY_DB_FILE) refuseNewer(db, path);
      if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(TABLE) === undefined) {
        // readmodels.db loses the table when it moves; keys.db is made with it, so one without it lost its bindings.
        if (file === KEY_REGISTRY_DB_FILE) throw lostBindings(path);
        return;
      }
      const rows = db.prepare(`SELECT handle, stream, purpose FROM ${TABLE} WHERE destroyed_at IS NULL`).iterate() as IterableIterator<{
        handle: string;
        stream: string;
        purpose: string;
      }>;
      for (const row of rows) {
        if ((handles !== undefined && !handles.has(row.handle)) || bound.has(row.handle)) continue;
        bound.set(row.handle, { stream: row.stream, purpose: row.purpose, file: path });
        if (allFound()) break;
      }
    });
  }
  return bound;
};
