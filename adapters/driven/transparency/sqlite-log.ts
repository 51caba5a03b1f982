import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { DATA_DIR_MODE, preparePrivateDatabaseFile, preparePrivateDir } from '../files/index.ts';
import {
  appendLeafHash,
  frontierNodes,
  frontierRoot,
  type CompletedNode,
  type Frontier,
} from '../../../domain/transparency/frontier.ts';
import { consistencyProof, inclusionProof, rootHash } from '../../../domain/transparency/tree.ts';
import { parseCheckpointText } from '../../../domain/transparency/checkpoint.ts';
import { parseSignedNote } from '../../../domain/transparency/note.ts';
import { constantTimeEqual } from '../../../domain/crypto/index.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import { asDamagedDatabase } from '../files/damaged-database.ts';
import { guardDamage, guardedStatement } from './log-file-damaged.ts';
import {
  TransparencyLogAltered,
  type LeafToAppend,
  type LoggedLeaf,
  type StoredCheckpoint,
  type StreamSlot,
  type TransparencyLogStore,
} from '../../../domain/ports/transparency-log.ts';

const SCHEMA_VERSION = 2;

// Level 0 lives in `leaves`; `nodes` holds every complete subtree above it, keyed (level, index), written once
// when its last leaf arrives and never updated: the table only grows, like the log. `stream_id` and `revision`
// (schema 2) are the stream index; NULL only in leaves of a schema 1 file that were not matched to their event yet.
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
`;
const STREAM_INDEX = 'CREATE INDEX IF NOT EXISTS leaves_by_stream ON leaves (stream_id, leaf_index);';
const ADD_STREAM_COLUMNS = 'ALTER TABLE leaves ADD COLUMN stream_id TEXT; ALTER TABLE leaves ADD COLUMN revision INTEGER;';

interface LeafRow {
  leaf_index: bigint;
  position: bigint;
  event_id: string;
  leaf_hash: Buffer;
  stream_id: string | null;
  revision: bigint | null;
}
interface CheckpointRow {
  tree_size: bigint;
  root_hash: Buffer;
  time: string;
  note: string;
}

const toLeaf = (row: LeafRow): LoggedLeaf => ({
  leafIndex: Number(row.leaf_index),
  position: row.position,
  eventId: row.event_id,
  leafHash: new Uint8Array(row.leaf_hash),
  ...(row.stream_id !== null && row.revision !== null ? { stream: { streamId: row.stream_id, revision: row.revision } } : {}),
});
const toCheckpoint = (row: CheckpointRow): StoredCheckpoint => ({
  treeSize: Number(row.tree_size),
  rootHash: new Uint8Array(row.root_hash),
  time: row.time,
  note: row.note,
});

const PAGE = 4096;

/** The row, once its columns are found to say what its note says. */
const checkedCheckpoint = (row: CheckpointRow): StoredCheckpoint => {
  const checkpoint = toCheckpoint(row);
  const text = parseSignedNote(row.note)?.text;
  const parsed = text === undefined ? undefined : parseCheckpointText(text);
  if (
    parsed?.ok !== true ||
    parsed.checkpoint.treeSize !== checkpoint.treeSize ||
    parsed.checkpoint.time !== checkpoint.time ||
    !constantTimeEqual(parsed.checkpoint.rootHash, checkpoint.rootHash)
  ) {
    throw new TransparencyLogAltered(`the checkpoint row of tree size ${checkpoint.treeSize} does not say what its signed note says`);
  }
  return checkpoint;
};

/** The transparency log in its own SQLite file, apart from events.db, so that editing one is caught by the other. */
export class SqliteTransparencyLog implements TransparencyLogStore {
  private frontier: Frontier = { size: 0, hashes: [] };
  private readonly sql: ReturnType<SqliteTransparencyLog['open']>;

  /** `readOnly`: an audit's connection, which changes nothing in the file (no journal mode, no migration). */
  constructor(private readonly db: Database.Database, options: { readonly readOnly?: boolean } = {}) {
    try {
      this.sql = this.open(options.readOnly === true);
      this.reloadFrontier();
    } catch (error) {
      // A file damaged where opening reads it (its header, schema or right edge) is refused as such, not as a crash.
      throw asDamagedDatabase(db.name, error);
    }
  }

  private open(readOnly: boolean) {
    const { db } = this;
    db.defaultSafeIntegers(true);
    db.pragma('busy_timeout = 5000');
    if (readOnly) {
      const found = Number(db.pragma('user_version', { simple: true }));
      if (found !== SCHEMA_VERSION) {
        throw new Error(`transparency log file has schema version ${found}, not ${SCHEMA_VERSION}: open it once with the service of this version (read-only, it is not migrated)`);
      }
    } else {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.transaction(() => {
        const found = Number(db.pragma('user_version', { simple: true }));
        if (found > SCHEMA_VERSION) throw new Error(`transparency log file has schema version ${found}, newer than ${SCHEMA_VERSION}`);
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
    };
  }

  /** Another connection (the CLI, a second worker) may have appended: the edge is re-read from the stored nodes. */
  private reloadFrontier(): void {
    const size = Number(this.sql.count.get());
    const hashes = frontierNodes(size).map(({ level, index }) => {
      try {
        return this.nodeHash(level, index);
      } catch (error) {
        if (isCredenceError(error, 'damaged_database')) throw error;
        throw new TransparencyLogAltered(`the stored subtree (${level}, ${index}) of its ${size} leaves is missing`);
      }
    });
    this.frontier = { size, hashes };
  }

  size(): number {
    return this.frontier.size;
  }

  lastPosition(): bigint | undefined {
    return (this.sql.lastPosition.get() as bigint | undefined) ?? undefined;
  }

  nodeHash(level: number, index: number): Uint8Array {
    const hash = (level === 0 ? this.sql.leafHash.get(index) : this.sql.node.get(level, index)) as Buffer | undefined;
    if (hash === undefined) throw new Error(`node (${level}, ${index}) is not in the transparency log`);
    return new Uint8Array(hash);
  }

  append(leaves: readonly LeafToAppend[]): void {
    if (leaves.length === 0) return;
    // IMMEDIATE takes the write lock before the size is read, so two writers cannot both extend the same edge.
    const appendAll = this.db.transaction(() => {
      if (Number(this.sql.count.get()) !== this.frontier.size) this.reloadFrontier();
      let frontier = this.frontier;
      let previous = this.lastPosition();
      for (const leaf of leaves) {
        if (previous !== undefined && leaf.position <= previous) {
          // Another writer (a second worker, the CLI) may have logged it first: the same leaf is not appended twice.
          if (this.isLogged(leaf)) continue;
          throw new Error(`leaves: position ${leaf.position} is not after position ${previous}`);
        }
        previous = leaf.position;
        const appended = appendLeafHash(frontier, leaf.leafHash);
        this.sql.insertLeaf.run(frontier.size, leaf.position, leaf.eventId, leaf.leafHash, leaf.stream.streamId, leaf.stream.revision);
        this.insertNodes(appended.completed);
        frontier = appended.frontier;
      }
      this.frontier = frontier;
    });
    // Its commit writes pages too: a damaged file found there is refused like one found by a statement.
    guardDamage(this.db.name, () => appendAll.immediate());
  }

  private isLogged(leaf: LeafToAppend): boolean {
    const logged = this.leafByPosition(leaf.position);
    return logged !== undefined && logged.eventId === leaf.eventId && Buffer.compare(logged.leafHash, leaf.leafHash) === 0;
  }

  private insertNodes(completed: readonly CompletedNode[]): void {
    for (const node of completed) if (node.level > 0) this.sql.insertNode.run(node.level, node.index, node.hash);
  }

  rootHash(size: number = this.frontier.size): Uint8Array {
    return size === this.frontier.size ? frontierRoot(this.frontier) : rootHash(this, size);
  }

  inclusionProof(leafIndex: number, treeSize: number): Uint8Array[] {
    if (treeSize > this.frontier.size) throw new Error(`treeSize: ${treeSize} exceeds the log size ${this.frontier.size}`);
    return inclusionProof(this, leafIndex, treeSize);
  }

  consistencyProof(first: number, second: number): Uint8Array[] {
    if (second > this.frontier.size) throw new Error(`second: ${second} exceeds the log size ${this.frontier.size}`);
    return consistencyProof(this, first, second);
  }

  leafAt(leafIndex: number): LoggedLeaf | undefined {
    const row = this.sql.leafAt.get(leafIndex) as LeafRow | undefined;
    return row && toLeaf(row);
  }

  leafByPosition(position: bigint): LoggedLeaf | undefined {
    const row = this.sql.leafByPosition.get(position) as LeafRow | undefined;
    return row && toLeaf(row);
  }

  leafByEventId(eventId: string): LoggedLeaf | undefined {
    const row = this.sql.leafByEventId.get(eventId) as LeafRow | undefined;
    return row && toLeaf(row);
  }

  *leaves(fromIndex = 0): Iterable<LoggedLeaf> {
    let next = fromIndex;
    for (;;) {
      const rows = this.sql.leafPage.all(next, PAGE) as LeafRow[];
      for (const row of rows) yield toLeaf(row);
      if (rows.length < PAGE) return;
      next = Number(rows[rows.length - 1]!.leaf_index) + 1;
    }
  }

  streamLeaves(streamId: string, treeSize: number): LoggedLeaf[] {
    return (this.sql.streamLeaves.all(streamId, treeSize) as LeafRow[]).map(toLeaf);
  }

  firstUnindexedLeaf(): LoggedLeaf | undefined {
    const row = this.sql.firstUnindexed.get() as LeafRow | undefined;
    return row && toLeaf(row);
  }

  indexLeaves(slots: readonly ({ readonly leafIndex: number } & StreamSlot)[]): void {
    const index = this.db.transaction(() => {
      for (const slot of slots) this.sql.indexLeaf.run(slot.streamId, slot.revision, slot.leafIndex);
    });
    guardDamage(this.db.name, () => index());
  }

  saveCheckpoint(checkpoint: StoredCheckpoint): void {
    this.sql.insertCheckpoint.run(checkpoint.treeSize, checkpoint.rootHash, checkpoint.time, checkpoint.note);
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.checked(this.sql.latestCheckpoint.get() as CheckpointRow | undefined);
  }

  checkpointCovering(size: number): StoredCheckpoint | undefined {
    return this.checked(this.sql.checkpointCovering.get(size) as CheckpointRow | undefined);
  }

  checkpointAt(treeSize: number): StoredCheckpoint | undefined {
    return this.checked(this.sql.checkpointAt.get(treeSize) as CheckpointRow | undefined);
  }

  *checkpoints(): Iterable<StoredCheckpoint> {
    let after = -1n;
    for (;;) {
      const rows = this.sql.checkpointPage.all(after, PAGE) as CheckpointRow[];
      for (const row of rows) yield this.checked(row)!;
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.tree_size;
    }
  }

  private checked(row: CheckpointRow | undefined): StoredCheckpoint | undefined {
    if (row === undefined) return undefined;
    const checkpoint = checkedCheckpoint(row);
    // Another connection (the CLI's export beside the service) may have logged and signed since this one last looked.
    if (checkpoint.treeSize > this.frontier.size) this.reloadFrontier();
    if (checkpoint.treeSize > this.frontier.size) {
      throw new TransparencyLogAltered(`a checkpoint signs ${checkpoint.treeSize} leaves, but the log holds ${this.frontier.size}`);
    }
    return checkpoint;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export const TRANSPARENCY_DB_FILE = 'transparency.db';

export const openTransparencyLog = (location: { file: string } | { memory: true }): SqliteTransparencyLog => {
  if ('file' in location) {
    mkdirSync(dirname(location.file), { recursive: true, mode: DATA_DIR_MODE });
    // Created 0600 before SQLite opens it: the log and its -wal/-shm are never readable by others.
    preparePrivateDatabaseFile(location.file);
  }
  return new SqliteTransparencyLog(new Database('file' in location ? location.file : ':memory:'));
};

/** Opens `<dataDir>/transparency.db`; refuses a data folder others may write to. */
export const openTransparencyLogInDir = (dataDir: string): SqliteTransparencyLog => {
  preparePrivateDir(dataDir);
  return openTransparencyLog({ file: join(dataDir, TRANSPARENCY_DB_FILE) });
};

/**
 * Opens `<dataDir>/transparency.db` to audit it: read-only, so the audit changes nothing of what it judges (no file
 * created, no journal mode set, no schema migrated). The file must exist, at this version's schema.
 */
export const openTransparencyLogForAudit = (dataDir: string): SqliteTransparencyLog => {
  const db = new Database(join(dataDir, TRANSPARENCY_DB_FILE), { readonly: true, fileMustExist: true });
  try {
    return new SqliteTransparencyLog(db, { readOnly: true });
  } catch (error) {
    db.close();
    throw error;
  }
};
