import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { damagedDatabase } from '../../../domain/errors.ts';
import { asDamagedDatabase, remedyFor } from '../files/damaged-database.ts';
import { KEY_REGISTRY_DB_FILE } from './sqlite-key-registry.ts';

/** sqlite-key-registry.ts's table; an earlier version kept it in readmodels.db, moved into keys.db at the next open. */
const TABLE = 'se_key_handles';
const LEGACY_DB_FILE = 'readmodels.db';

/** The entity a registry binding gives a key to, and the database that says so. */
export interface BoundHandle {
  readonly stream: string;
  readonly purpose: string;
  readonly file: string;
}

/**
 * The binding of the folder's key registry that still holds `handle` (not destroyed: current, pending, or owed by the
 * shredder), read-only: for a command that must not destroy a key the infrastructure uses or will destroy itself. The
 * registry's own reader has no lookup by handle, and opening it would write (its schema, a legacy move).
 */
export const boundHandle = (dataDir: string, handle: string): BoundHandle | undefined => {
  for (const file of [KEY_REGISTRY_DB_FILE, LEGACY_DB_FILE]) {
    const path = join(dataDir, file);
    if (!existsSync(path)) continue;
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (error) {
      throw asDamagedDatabase(path, error);
    }
    try {
      if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(TABLE) === undefined) {
        // readmodels.db loses the table when it moves; keys.db is made with it, so one without it lost its bindings.
        if (file === KEY_REGISTRY_DB_FILE) throw damagedDatabase(path, file, `no ${TABLE} table: which keys it binds is unknown`, remedyFor(file));
        continue;
      }
      const row = db.prepare(`SELECT stream, purpose FROM ${TABLE} WHERE handle = ? AND destroyed_at IS NULL LIMIT 1`).get(handle) as
        | { stream: string; purpose: string }
        | undefined;
      if (row !== undefined) return { stream: row.stream, purpose: row.purpose, file: path };
    } catch (error) {
      throw asDamagedDatabase(path, error);
    } finally {
      db.close();
    }
  }
  return undefined;
};
