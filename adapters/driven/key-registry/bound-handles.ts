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
 * Files only a start makes (adapters/runtime/event-store-of-a-served-folder.ts: its event store, read models and log,
 * and first-event.json, which the embedded store's first event writes), the start that makes keys.db as it registers
 * the infrastructure's keys: named here rather than imported, so that a key command loads none of their adapters.
 * `token create` and `ca init` make none of them (they make access.db, the Secure Environment, pki/).
 */
const USED_STORE_FILES = ['events.db', 'readmodels.db', 'transparency.db', 'first-event.json'];

const hasRegistryTable = (db: Database.Database): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(TABLE) !== undefined;

/**
 * Review 378 (SER-010): keys.db missing from a folder whose store was used (a start made its events.db or
 * readmodels.db or log, and keys.db with them) lost every binding it held, as an empty keys.db did (lostBindings): the
 * pseudonym PRF key, the signing keys devices pin, live credentials' PSKs and associations' session keys would be
 * called unnamed, and `key destroy` destroy them. Refused, by the same damaged-database refusal, naming the file and
 * its restore. One whose bindings are still in readmodels.db (an earlier version's, not moved yet) lost none, and a
 * folder never started (an interrupted `ca init`) has no keys.db yet: neither is refused. For `credence key list`, `key
 * destroy` and `key destroy-since-backup` (bin/commands/keys-in-use.ts), not for a start: a first start killed after
 * its event store and before keys.db must be able to start again and make it.
 */
export const refuseKeysDbLostFromAUsedFolder = (dataDir: string): void => {
  const path = join(dataDir, KEY_REGISTRY_DB_FILE);
  if (existsSync(path)) return;
  const made = USED_STORE_FILES.filter((file) => existsSync(join(dataDir, file)));
  if (made.length === 0) return;
  const legacy = join(dataDir, LEGACY_DB_FILE);
  if (existsSync(legacy) && readOnlyDatabase(legacy, hasRegistryTable)) return;
  throw damagedDatabase(
    path,
    KEY_REGISTRY_DB_FILE,
    `missing, while the folder's ${made.join(', ')} say a start used it and made it: which keys it binds is unknown`,
    `${remedyFor(KEY_REGISTRY_DB_FILE)}; only if this data folder's first start stopped before making it (no key was bound yet), start the service once: it makes the file`,
  );
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
      if (!hasRegistryTable(db)) {
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
