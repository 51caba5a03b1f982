import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { damagedDatabase } from '../../../domain/errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { asDamagedDatabase, rememberDatabaseFile } from './damaged-database.ts';
import { newerFileVersion } from './newer-file-version.ts';
import { DATA_FILE_MODE, preparePrivateDatabaseFile, preparePrivateDir } from './private-files.ts';
import { asUnwritableDatabase } from './unwritable-folder.ts';
import { refuseWalInUnwritableFolder } from './wal-in-unwritable-folder.ts';

/** Where a private database lives: `<dir>/<file>`, or in memory (tests, in-memory instances). */
export type PrivateSqliteLocation = { readonly dir: string } | { readonly memory: true };

export interface PrivateSqliteOptions {
  /** The database's file name inside the data folder (`keys.db`, `access.db`, ...). */
  readonly file: string;
  /**
   * `FULL`: a commit is on disk before it returns, for state no event can bring back (key bindings, tokens);
   * `NORMAL`: a power loss may take the last commits but never corrupts, for what is rebuilt from the events.
   */
  readonly synchronous: 'FULL' | 'NORMAL';
  /**
   * The schema the file holds, created when missing; `user_version` says which version wrote it, and a file a newer
   * version wrote is refused (`what` names the database in that error).
   */
  readonly schema?: {
    readonly what: string;
    readonly version: number;
    readonly sql: string;
    /** Brings a file an earlier version wrote (`found`, 1 or more) to `version`, in the same transaction, before `sql`. */
    readonly upgrade?: (db: Database.Database, found: number) => void;
  };
}

type Schema = NonNullable<PrivateSqliteOptions['schema']>;

/** How long a statement waits for another connection's lock (the CLI beside a running service) before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/** `schema` created, or brought to its version, or its version checked, in one immediate transaction. */
const applySchema = (db: Database.Database, schema: Schema): void => {
  db.transaction(() => {
    const found = Number(db.pragma('user_version', { simple: true }));
    if (found > schema.version) throw newerFileVersion(db.memory ? `the ${schema.what}` : db.name, schema.what, found, schema.version);
    if (found > 0 && found < schema.version) schema.upgrade?.(db, found);
    db.exec(schema.sql);
    if (found < schema.version) db.pragma(`user_version = ${schema.version}`);
  }).immediate();
};

/**
 * Sizes at or below which a log holds nothing to play back: a -wal's 32-byte header without a frame (a read-only
 * close leaves an empty -wal and -shm beside a stopped folder's file: `key list`, `key destroy`; review 72), and an
 * empty -journal.
 */
const LOG_HOLDS_NOTHING = { wal: 32, journal: 0 } as const;

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
};

/**
 * A -wal or -journal whose database is gone (moved aside alone, as a remedy may be misread) is refused, not left to
 * SQLite: a new file with pages would have a -wal's frames played over it, bringing back the rows of the file moved
 * aside (tokens and signing keys an operator meant to drop; found in review 71), or, for a partial one, reading as
 * corrupt. Before this file was made whole, SQLite deleted the -wal of the empty file it then opened. Not deleted here:
 * another process may have just linked the file and own it, so its absence is read again first.
 */
const refuseLeftLog = (path: string): void => {
  const left = [`${path}-wal`, `${path}-journal`].filter((log) => sizeOf(log) > LOG_HOLDS_NOTHING[log.endsWith('-wal') ? 'wal' : 'journal']);
  if (left.length === 0 || existsSync(path)) return;
  const file = basename(path);
  throw damagedDatabase(
    path,
    file,
    `${left.map((log) => basename(log)).join(' and ')} without ${file} itself`,
    `move ${left.map((log) => basename(log)).join(' and ')} aside too (with ${file}-shm), or put back the ${file} they belong to, then start again`,
  );
};

/**
 * A missing database file made whole or not at all, a WAL file: its schema and version built in memory and written
 * through writeFileAtomic (its temp name, which the stray sweep knows, then linked into place). A first start killed at
 * any point leaves no file, or one with its whole schema, never the page with none that the journal mode set first left
 * (a key registry refuses that page at start: a copy made without its -wal looks the same, registry-tables.ts). Linked,
 * not renamed: a process that made the file meanwhile keeps its own, and this one opens it.
 */
export const createWhole = (path: string, schema: Schema): void => {
  if (existsSync(path)) return;
  refuseLeftLog(path);
  const db = new Database(':memory:');
  let image: Buffer;
  try {
    applySchema(db, schema);
    image = db.serialize();
    // A WAL file from its first byte (file format write and read versions, header offsets 18 and 19): its open's
    // `journal_mode = WAL` then writes nothing, where switching a rollback file made a -journal that a kill inside
    // the switch left hot, which read-only openers cannot read (review 71).
    image[18] = 2;
    image[19] = 2;
  } finally {
    db.close();
  }
  try {
    writeFileAtomic(path, image, { exclusive: true, mode: DATA_FILE_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
};

/**
 * Opens one of the data folder's SQLite databases: the folder checked private (0700); a -wal or -journal left without
 * its file refused (refuseLeftLog); a missing file with a schema made whole (createWhole), one without made empty,
 * 0600, before SQLite opens it (its -wal/-shm follow); a busy timeout; the schema created or its version checked in
 * one immediate transaction, and only then WAL with the `synchronous` level asked for (a zero-length file an earlier
 * version left is so made whole by its rollback journal before it is a WAL file). A WAL file SQLite cannot read here
 * (no -shm, its folder not writable) is refused naming it (wal-in-unwritable-folder.ts), and SQLite's refusal to
 * write one this account may not write is said naming it (unwritable-folder.ts). Whatever fails after the open
 * closes the database; a file SQLite finds damaged is a `damaged_database` error naming it and what mends it.
 */
export const openPrivateSqlite = (location: PrivateSqliteLocation, options: PrivateSqliteOptions): Database.Database => {
  let db: Database.Database;
  let path: string | undefined;
  if ('memory' in location) {
    db = new Database(':memory:');
  } else {
    preparePrivateDir(location.dir);
    path = join(location.dir, options.file);
    // With a schema or without: a file without one is made empty, and SQLite deletes the -wal of an empty file, which
    // for events.db or the replay cache would drop commits the file moved aside still needs (refuseLeftLog).
    refuseLeftLog(path);
    if (options.schema !== undefined) createWhole(path, options.schema);
    preparePrivateDatabaseFile(path);
    // Said here, naming the file: SQLite's first statement would fail on it naming none.
    refuseWalInUnwritableFolder(path);
    try {
      db = new Database(path);
    } catch (error) {
      throw asDamagedDatabase(path, error);
    }
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!('memory' in location)) db.pragma(`synchronous = ${options.synchronous}`);
    if (options.schema !== undefined) applySchema(db, options.schema);
    if (!('memory' in location)) db.pragma('journal_mode = WAL');
    if (path !== undefined) rememberDatabaseFile(path);
    return db;
  } catch (error) {
    db.close();
    throw path === undefined ? error : asDamagedDatabase(path, asUnwritableDatabase(path, error));
  }
};
