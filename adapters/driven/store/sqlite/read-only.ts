import type Database from 'better-sqlite3';
import { validationError, type CredenceError } from '../../../../domain/errors.ts';
import { newerFileVersion } from '../../files/newer-file-version.ts';
import { SCHEMA_VERSION } from './schema.ts';

/**
 * The embedded store opened to read only (`readOnly`: the commands that only read a folder, README's restore step on
 * `<data>.before-restore` above all) writes nothing to its file: it neither makes nor upgrades the schema as an open
 * to write does (schema.ts `prepareDatabase`), it checks it. Review 177: a zero-byte events.db (a first start killed
 * before its store was made) had the whole schema written into it by `credence query`, and one of user_version 0 was
 * upgraded to 1.
 */

/** The rule of a file the read-only store refuses for its layout: no event store there, or an older one. */
export const EVENT_STORE_LAYOUT = 'event_store_layout';

const refused = (file: string, message: string): CredenceError =>
  validationError([{ path: file, rule: EVENT_STORE_LAYOUT, message }], 'event store');

/**
 * Refuses, typed and naming `file` with what it found and what to do, a file that holds no event store of this
 * layout: empty, without the store's tables, an older layout (upgrading it would write it) or a newer one
 * (newerFileVersion, as every open refuses it). Read in one read transaction, so a writer making the schema at the
 * same time is seen wholly or not at all.
 */
export function checkSchemaToRead(db: Database.Database, file: string): void {
  const { found, tables } = db.transaction(() => ({
    found: Number(db.pragma('user_version', { simple: true })),
    tables: new Set(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[]),
  }))();
  if (found > SCHEMA_VERSION) throw newerFileVersion(file, 'event store', found, SCHEMA_VERSION);
  if (tables.size === 0) {
    throw refused(
      file,
      'event store file is empty: there is no event store there, nothing to read (a first start stopped before it made ' +
        'its store leaves such a file); read the folder that holds the events',
    );
  }
  if (!tables.has('events')) throw refused(file, 'event store file has no events table: it is no event store; read the folder that holds the events');
  if (found < SCHEMA_VERSION) {
    throw refused(
      file,
      `event store file has schema version ${found}, older than this build reads (${SCHEMA_VERSION}): read-only it is not upgraded; ` +
        'start the service (or a command that writes to the store) on it once to upgrade it, on a copy if it is evidence',
    );
  }
  if (!tables.has('commands')) {
    throw refused(file, `event store file has schema version ${found} but no commands table: it is damaged or not an event store; read a backup`);
  }
}

/** A folder without an events.db, opened read-only: nothing is made there. */
export const noEventStoreFile = (file: string): CredenceError =>
  refused(file, 'there is no event store file, nothing to read; read the folder that holds the events');

/** An append to a store opened read-only: refused before anything is done, typed, not SQLite's bare SQLITE_READONLY. */
export const appendToReadOnlyStore = (file: string): CredenceError =>
  validationError(
    [{ path: file, rule: 'read_only', message: 'the event store was opened read-only, to leave its files as they were: nothing is appended to it' }],
    'event store',
  );
