import type Database from 'better-sqlite3';
import { newerFileVersion } from '../../files/newer-file-version.ts';

/**
 * Layout of the embedded event store. `user_version` records which layout a file holds so that a newer file is
 * refused instead of being misread, and a future layout can migrate an older one.
 */
export const SCHEMA_VERSION = 1;

const CREATE_V1 = `
CREATE TABLE IF NOT EXISTS events (
  -- AUTOINCREMENT: a committed position is never handed out again, even after the newest row is deleted.
  position   INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id  TEXT    NOT NULL,
  revision   INTEGER NOT NULL,
  event_id   TEXT    NOT NULL UNIQUE,
  type       TEXT    NOT NULL,
  data       TEXT    NOT NULL,
  metadata   TEXT    NOT NULL,
  command_id TEXT,
  UNIQUE (stream_id, revision)
);
-- Type-filtered reads of $all walk this index in position order per type; stream_id is in it so that a
-- stream-prefix filter is checked without touching the row.
CREATE INDEX IF NOT EXISTS events_type_position ON events (type, position, stream_id);
-- SER-010: the credential that certified a key, found by its fingerprint in one indexed read (certified-keys.ts).
-- Built on open for a file an earlier version wrote: keys certified before the rule are found too. json_valid first:
-- a malformed row is left out of the index, never made an error of every later append.
CREATE INDEX IF NOT EXISTS events_certified_key ON events (
  (CASE WHEN json_valid(data) THEN json_extract(data, '$.fingerprint') END), position
) WHERE type = 'CredentialIssued';
-- SER-010: a CredentialIssued row with a member SQLite reads as "fingerprint" twice (two named so, or one whose name
-- SQLite matches to $.fingerprint, such as "fingerprint" and an escaped NUL), which the store never writes:
-- json_extract above files it under the first value, the event (JSON.parse) another, so the index could miss a
-- certified key. Nearly always empty; while it holds a row certified-keys.ts refuses every decision's lookup, and a
-- read path's of a key the row names (reviews 321, 325). Same json_valid guard as above.
CREATE INDEX IF NOT EXISTS events_fingerprint_named_twice ON events (position) WHERE type = 'CredentialIssued' AND
  (CASE WHEN json_valid(data) THEN json_type(json_remove(data, '$.fingerprint'), '$.fingerprint') END) IS NOT NULL;
CREATE TABLE IF NOT EXISTS commands (
  command_id     TEXT    PRIMARY KEY,
  stream_id      TEXT    NOT NULL,
  first_position INTEGER NOT NULL,
  last_position  INTEGER NOT NULL,
  last_revision  INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * When an append is acknowledged. `full` (the default): after its WAL frames are synced to disk, so it survives a
 * power loss or an OS crash. `normal`: after they are written to the OS, so it survives a killed process but the last
 * commits may be lost with the machine; for tests and benchmarks that say so.
 */
export type Durability = 'full' | 'normal';
export const DURABILITIES: readonly Durability[] = ['full', 'normal'];

/** The size the -wal file is cut back to after a checkpoint (PRAGMA journal_size_limit): 32 MiB. */
export const WAL_SIZE_LIMIT_BYTES = 32 * 1024 * 1024;

export interface ConnectionSettings {
  readonly busyTimeoutMs: number;
  readonly durability: Durability;
}

/** Sets the connection's pragmas and creates (or checks) the schema. Safe to run on every open. */
export function prepareDatabase(db: Database.Database, settings: ConnectionSettings): void {
  setReadingPragmas(db, settings.busyTimeoutMs);
  // WAL lets subscribers and readers on other connections read while one connection appends.
  // An in-memory database answers 'memory' here; it has no other connection to share with.
  db.pragma('journal_mode = WAL');
  // FULL under WAL syncs the WAL at every commit: acknowledged means on disk. Group commit (group-commit.ts) makes
  // that one sync per group of appends. NORMAL syncs only at checkpoints: a commit survives a process crash, but an
  // OS crash or power loss may drop the last ones.
  db.pragma(`synchronous = ${settings.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  // On macOS fsync() leaves the writes in the drive's own cache, where a power loss takes them: only F_FULLFSYNC
  // reaches the medium, and SQLite uses it only when asked. Elsewhere SQLite ignores both pragmas.
  const fullfsync = settings.durability === 'full' ? 'ON' : 'OFF';
  db.pragma(`fullfsync = ${fullfsync}`);
  db.pragma(`checkpoint_fullfsync = ${fullfsync}`);
  // A checkpoint copies the WAL's frames into the database file but leaves the -wal file at its largest size: one
  // large group (4,096 appends of 16 kB made it 68 MB) held that much disk until close. Cut back to this size each
  // time the WAL starts over after a checkpoint; the same 32 MiB as the writer's own checkpoint bound
  // (checkpointer.ts, 8,192 pages), so a WAL within the bound is never cut and grown again.
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);

  // IMMEDIATE: two processes opening the same new file must not both create the schema half-way. On a file whose
  // schema is there already it changes nothing, but takes the write lock: a store opened read-only skips it
  // (read-only.ts checkSchemaToRead).
  db.transaction(() => {
    const found = Number(db.pragma('user_version', { simple: true }));
    if (found > SCHEMA_VERSION) {
      // Typed, naming the file, as every data file a newer version wrote is refused: nothing is read or migrated.
      throw newerFileVersion(db.memory ? 'the event store' : db.name, 'event store', found, SCHEMA_VERSION);
    }
    db.exec(CREATE_V1);
    if (found < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * The settings of this connection only, which write nothing to the file: a store opened read-only sets these alone
 * (not the journal mode, which is written in the file's header).
 */
export function setReadingPragmas(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  // Reads of recent events dominate (every command re-reads its stream's tail): keep pages mapped and cached.
  db.pragma('mmap_size = 268435456');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
}
