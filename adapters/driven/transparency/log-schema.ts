import type Database from 'better-sqlite3';
import { TransparencyLogAltered } from '../../../domain/ports/transparency-log.ts';
import { newerFileVersion } from '../files/newer-file-version.ts';
import { guardedStatement } from './log-file-damaged.ts';

const SCHEMA_VERSION = 3;
/**
 * The oldest version an audit's read-only connection reads as it is: schema 3 only added `refusal`, and a file that has
 * none kept no refusal. A log archived before (README, "Restoring the event store from a backup": `<data>.before-restore`)
 * is audited without being opened by a service, which its old key must never sign for again (review 56).
 */
const READ_ONLY_SINCE = 2;

// Level 0 lives in `leaves`; `nodes` holds every complete subtree above it, keyed (level, index), written once
// when its last leaf arrives and never updated: the table only grows, like the log. `stream_id` and `revision`
// (schema 2) are the stream index; NULL only in leaves of a schema 1 file that were not matched to their event yet.
// `refusal` (schema 3) keeps the log's refusal to go on over a store that no longer holds what it logged (one row at
// most): a file of this version is refused by an earlier Credence, which would sign on over that store.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS leaves (
  leaf_index INTEGER PRIMARY KEY,
  position   INTEGER NOT NULL UNIQUE,
  event_id   TEXT    NOT NULL,
  leaf_hash  BLOB    NOT NULL,
  stream_id  TEXT,
  revision   INTEGER
);
CREATE TABLE IF NOT EXISTS nodes (
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  hash  BLOB    NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
  tree_size INTEGER PRIMARY KEY,
  root_hash BLOB    NOT NULL,
  time      TEXT    NOT NULL,
  note      TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS refusal (
  one           INTEGER PRIMARY KEY CHECK (one = 1),
  leaf_index    INTEGER NOT NULL,
  position      INTEGER NOT NULL,
  expected_hash BLOB    NOT NULL,
  found_hash    BLOB,
  refused_at    TEXT    NOT NULL
);
`;
const STREAM_INDEX = 'CREATE INDEX IF NOT EXISTS leaves_by_stream ON leaves (stream_id, leaf_index);';
const ADD_STREAM_COLUMNS = 'ALTER TABLE leaves ADD COLUMN stream_id TEXT; ALTER TABLE leaves ADD COLUMN revision INTEGER;';

const LOG_TABLES = ['leaves', 'nodes', 'checkpoints'];

/**
 * The audit's connection reads only plain tables of the log's names: a view in a table's place (over a recursive CTE,
 * it never ends) or a trigger is the file altered, a finding (TransparencyLogAltered), before any table is read
 * (review 88). Checked in sqlite_master, which reads the schema and runs nothing the file defines.
 */
const refuseSchemaNotTheLogs = (db: Database.Database, tables: readonly string[]): void => {
  const rows = db.prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger')").all() as { type: unknown; name: unknown }[];
  const foreign = rows.find((r) => r.type === 'trigger' || r.type === 'view');
  if (foreign !== undefined) {
    throw new TransparencyLogAltered(`the log file defines a ${String(foreign.type)} (${JSON.stringify(String(foreign.name))}), which no Credence writes`);
  }
  const plain = new Set(rows.filter((r) => r.type === 'table').map((r) => r.name));
  const absent = tables.find((t) => !plain.has(t));
  if (absent !== undefined) throw new TransparencyLogAltered(`the log file has no table ${absent}`);
};

/**
 * Sets up the log file's schema (migrating one of an earlier version; an audit's read-only connection only checks it)
 * and prepares every statement the log runs on it (sqlite-log.ts).
 */
export const openLogStatements = (db: Database.Database, readOnly: boolean) => {
  db.defaultSafeIntegers(true);
  db.pragma('busy_timeout = 5000');
  let keepsRefusals = true;
  if (readOnly) {
    const found = Number(db.pragma('user_version', { simple: true }));
    // A newer file is no service's of this version to open either (it refuses it): only the version that wrote it
    // knows its layout (review 81: the advice to open it here was said of both).
    if (found > SCHEMA_VERSION) {
      throw new Error(
        `transparency log file has schema version ${found}, newer than ${SCHEMA_VERSION}, the newest this version reads: a newer version of Credence wrote it; audit it with that version`,
      );
    }
    if (found < READ_ONLY_SINCE) {
      throw new Error(
        `transparency log file has schema version ${found}, not ${READ_ONLY_SINCE} to ${SCHEMA_VERSION}: open it once with the service of this version (read-only, it is not migrated)`,
      );
    }
    keepsRefusals = found >= 3;
    refuseSchemaNotTheLogs(db, keepsRefusals ? [...LOG_TABLES, 'refusal'] : LOG_TABLES);
  } else {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.transaction(() => {
      const found = Number(db.pragma('user_version', { simple: true }));
      if (found > SCHEMA_VERSION) throw newerFileVersion(db.memory ? 'the transparency log' : db.name, 'transparency log', found, SCHEMA_VERSION);
      db.exec(SCHEMA);
      if (found === 1) db.exec(ADD_STREAM_COLUMNS);
      db.exec(STREAM_INDEX);
      if (found < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }
  // Every read and write reports a damaged file as `damaged_database`, naming it (review 51).
  const prepare = (text: string, pluck = false) => guardedStatement(pluck ? db.prepare(text).pluck() : db.prepare(text), db.name);
  return {
    count: prepare('SELECT COALESCE(MAX(leaf_index) + 1, 0) AS n FROM leaves', true),
    lastPosition: prepare('SELECT position FROM leaves ORDER BY leaf_index DESC LIMIT 1', true),
    leafHash: prepare('SELECT leaf_hash FROM leaves WHERE leaf_index = ?', true),
    node: prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?', true),
    insertLeaf: prepare(
      'INSERT INTO leaves (leaf_index, position, event_id, leaf_hash, stream_id, revision) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    streamLeaves: prepare('SELECT * FROM leaves WHERE stream_id = ? AND leaf_index < ? ORDER BY leaf_index'),
    firstUnindexed: prepare('SELECT * FROM leaves WHERE stream_id IS NULL ORDER BY leaf_index LIMIT 1'),
    indexLeaf: prepare('UPDATE leaves SET stream_id = ?, revision = ? WHERE leaf_index = ? AND stream_id IS NULL'),
    insertNode: prepare('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)'),
    leafAt: prepare('SELECT * FROM leaves WHERE leaf_index = ?'),
    leafByPosition: prepare('SELECT * FROM leaves WHERE position = ?'),
    leafByEventId: prepare('SELECT * FROM leaves WHERE event_id = ? ORDER BY leaf_index LIMIT 1'),
    leafPage: prepare('SELECT * FROM leaves WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?'),
    insertCheckpoint: prepare(
      'INSERT OR IGNORE INTO checkpoints (tree_size, root_hash, time, note) VALUES (?, ?, ?, ?)',
    ),
    latestCheckpoint: prepare('SELECT * FROM checkpoints ORDER BY tree_size DESC LIMIT 1'),
    checkpointCovering: prepare('SELECT * FROM checkpoints WHERE tree_size >= ? ORDER BY tree_size LIMIT 1'),
    checkpointAt: prepare('SELECT * FROM checkpoints WHERE tree_size = ?'),
    checkpointPage: prepare('SELECT * FROM checkpoints WHERE tree_size > ? ORDER BY tree_size LIMIT ?'),
    // A read-only file of schema 2 has no table of refusals: it kept none, and is never written.
    refusal: prepare(keepsRefusals ? 'SELECT * FROM refusal' : 'SELECT NULL WHERE 0'),
    insertRefusal: prepare(
      keepsRefusals ? 'INSERT OR IGNORE INTO refusal (one, leaf_index, position, expected_hash, found_hash, refused_at) VALUES (1, ?, ?, ?, ?, ?)' : 'SELECT NULL WHERE 0',
    ),
    deleteRefusal: prepare(keepsRefusals ? 'DELETE FROM refusal' : 'SELECT NULL WHERE 0'),
  };
};

export type LogStatements = ReturnType<typeof openLogStatements>;
