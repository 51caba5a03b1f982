import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { openPrivateSqlite, openReadingConnection, preparePrivateDir, waitForOtherWritersAtMost } from '../files/index.ts';
import {
  appendLeafHash,
  frontierNodes,
  frontierRoot,
  type CompletedNode,
  type Frontier,
} from '../../../domain/transparency/frontier.ts';
import { consistencyProof, inclusionProof, rootHash } from '../../../domain/transparency/tree.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import { asDamagedDatabase } from '../files/damaged-database.ts';
import { guardDamage, guardedStatement, type GuardedStatement } from './log-file-damaged.ts';
import { checkedCheckpoint, hashIn, indexIn, toLeaf, toRefusal, type CheckpointRow, type LeafRow, type RefusalRow } from './log-rows.ts';
import { openLogStatements, type LogStatements } from './log-schema.ts';
import {
  TransparencyLogAltered,
  type LeafToAppend,
  type LoggedLeaf,
  type LogRefusal,
  type StoredCheckpoint,
  type StreamSlot,
  type TransparencyLogStore,
} from '../../../domain/ports/transparency-log.ts';

const PAGE = 4096;

/** The transparency log in its own SQLite file, apart from events.db, so that editing one is caught by the other. */
export class SqliteTransparencyLog implements TransparencyLogStore {
  private frontier: Frontier = { size: 0, hashes: [] };
  private readonly sql: LogStatements;
  private readonly newestRow: GuardedStatement;

  /** `readOnly`: an audit's connection, which changes nothing in the file (no journal mode, no migration). */
  constructor(private readonly db: Database.Database, options: { readonly readOnly?: boolean } = {}) {
    try {
      this.sql = openLogStatements(db, options.readOnly === true);
      this.newestRow = guardedStatement(db.prepare('SELECT * FROM leaves ORDER BY leaf_index DESC LIMIT 1'), db.name);
      this.reloadFrontier();
    } catch (error) {
      // A file damaged where opening reads it (its header, schema or right edge) is refused as such, not as a crash.
      throw asDamagedDatabase(db.name, error);
    }
  }

  /** Another connection (the CLI, a second worker) may have appended: the edge is re-read from the stored nodes. */
  private reloadFrontier(): void {
    const size = indexIn('leaves', 'leaf_index', this.sql.count.get());
    const hashes = frontierNodes(size).map(({ level, index }) => {
      try {
        return this.nodeHash(level, index);
      } catch (error) {
        if (isCredenceError(error, 'damaged_database') || error instanceof TransparencyLogAltered) throw error;
        throw new TransparencyLogAltered(`the stored subtree (${level}, ${index}) of its ${size} leaves is missing`);
      }
    });
    this.frontier = { size, hashes };
  }

  /**
   * The file's count, not only what this connection appended or read (review 418): another process (an export killed or
   * refused between its catch-up and its signature) may have logged leaves it signed no checkpoint over, which this
   * connection otherwise never saw, neither signed nor proved. One primary-key lookup; the edge is re-read from the
   * stored nodes when the file holds more, as for a checkpoint of another writer's (`checked`). Fewer rows than this
   * connection counted is no log's doing: the audit and the newest-leaf check say so, and the count stays. Not what
   * this process vouches for (fix 1066): that is the count `append` returned, read at its commit.
   */
  size(): number {
    this.reconcile();
    return this.frontier.size;
  }

  /** The edge brought up to leaves another connection appended since this one last looked. */
  private reconcile(): void {
    if (indexIn('leaves', 'leaf_index', this.sql.count.get()) > this.frontier.size) this.reloadFrontier();
  }

  lastPosition(): bigint | undefined {
    return (this.sql.lastPosition.get() as bigint | undefined) ?? undefined;
  }

  nodeHash(level: number, index: number): Uint8Array {
    const hash: unknown = level === 0 ? this.sql.leafHash.get(index) : this.sql.node.get(level, index);
    if (hash === undefined) throw new Error(`node (${level}, ${index}) is not in the transparency log`);
    return level === 0 ? hashIn('leaves', 'leaf_hash', hash) : hashIn('nodes', 'hash', hash);
  }

  append(leaves: readonly LeafToAppend[]): number {
    // Nothing to append still brings the edge up to what another writer logged (review 418: an early return here left
    // the service's count stale once an export logged the events its live feed then handed it).
    if (leaves.length === 0) {
      this.reconcile();
      return this.frontier.size;
    }
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
      return frontier;
    });
    // Its commit writes pages too: a damaged file found there is refused like one found by a statement. The edge moves
    // only once the leaves are committed (review 217): a COMMIT that fails (a full disk, an I/O error: WAL pages are
    // written there) rolls them back, and an edge moved inside the transaction left size() and rootHash() counting
    // leaves the file never kept, which the next checkpoint signed.
    this.frontier = guardDamage(this.db.name, () => appendAll.immediate());
    // The count committed, returned rather than read again: a row another process inserts after the commit is not in it.
    return this.frontier.size;
  }

  private isLogged(leaf: LeafToAppend): boolean {
    const logged = this.leafByPosition(leaf.position);
    return logged !== undefined && logged.eventId === leaf.eventId && Buffer.compare(logged.leafHash, leaf.leafHash) === 0;
  }

  private insertNodes(completed: readonly CompletedNode[]): void {
    for (const node of completed) if (node.level > 0) this.sql.insertNode.run(node.level, node.index, node.hash);
  }

  rootHash(size?: number): Uint8Array {
    const current = this.size();
    return size === undefined || size === current ? frontierRoot(this.frontier) : rootHash(this, size);
  }

  storedRootHash(size: number): Uint8Array {
    if (size > this.size()) throw new Error(`size: ${size} exceeds the log size ${this.frontier.size}`);
    return rootHash(this, size);
  }

  inclusionProof(leafIndex: number, treeSize: number): Uint8Array[] {
    if (treeSize > this.size()) throw new Error(`treeSize: ${treeSize} exceeds the log size ${this.frontier.size}`);
    return inclusionProof(this, leafIndex, treeSize);
  }

  consistencyProof(first: number, second: number): Uint8Array[] {
    if (second > this.size()) throw new Error(`second: ${second} exceeds the log size ${this.frontier.size}`);
    return consistencyProof(this, first, second);
  }

  leafAt(leafIndex: number): LoggedLeaf | undefined {
    const row = this.sql.leafAt.get(leafIndex) as LeafRow | undefined;
    return row && toLeaf(row);
  }

  newestLeaf(): LoggedLeaf | undefined {
    const row = this.newestRow.get() as LeafRow | undefined;
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

  /**
   * Committed with the WAL synced (`synchronous = FULL` for this one commit, and so every leaf before it): the leaves
   * are appended at NORMAL, which a power loss may roll back, and the service's checkpoint witness is written once
   * this returns. A witness ahead of the log after a power loss read as tampering (review 105). One sync per
   * checkpoint, every 10 s or 1,000 leaves.
   */
  saveCheckpoint(checkpoint: StoredCheckpoint): void {
    this.db.pragma('synchronous = FULL');
    try {
      this.sql.insertCheckpoint.run(checkpoint.treeSize, checkpoint.rootHash, checkpoint.time, checkpoint.note);
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
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

  keptRefusal(): LogRefusal | undefined {
    const row = this.sql.refusal.get() as RefusalRow | undefined;
    return row && toRefusal(row);
  }

  keepRefusal(refusal: LogRefusal): void {
    const { leafIndex, position, expectedLeafHash, foundLeafHash, refusedAt } = refusal;
    this.sql.insertRefusal.run(leafIndex, position, expectedLeafHash, foundLeafHash ?? null, refusedAt);
  }

  clearRefusal(): void {
    this.sql.deleteRefusal.run();
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

  /** How long its statements wait for another connection's write lock (the CLI's export), till the returned call. */
  waitForOtherWritersAtMost(ms: number): () => void {
    return waitForOtherWritersAtMost([this.db], ms);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export const TRANSPARENCY_DB_FILE = 'transparency.db';

export const openTransparencyLog = (location: { file: string } | { memory: true }): SqliteTransparencyLog => {
  // The data folder's opener: its folder private, a -wal left without the log refused, the log 0600 before SQLite
  // makes its -wal/-shm. Its schema stays the log's own (log-schema.ts), migrated there.
  const db = openPrivateSqlite('file' in location ? { dir: dirname(location.file) } : location, {
    file: 'file' in location ? basename(location.file) : TRANSPARENCY_DB_FILE,
    synchronous: 'NORMAL',
  });
  try {
    return new SqliteTransparencyLog(db);
  } catch (error) {
    db.close();
    throw error;
  }
};

/** Opens `<dataDir>/transparency.db`; refuses a data folder others may write to. */
export const openTransparencyLogInDir = (dataDir: string): SqliteTransparencyLog => {
  preparePrivateDir(dataDir);
  return openTransparencyLog({ file: join(dataDir, TRANSPARENCY_DB_FILE) });
};

/**
 * Opens `<dataDir>/transparency.db` to audit it on a connection that writes nothing, so the audit changes nothing of
 * what it judges (no journal mode set, no schema migrated, no -wal or -shm of its own left: reading-connection.ts).
 * The file must exist, at this version's schema.
 */
export const openTransparencyLogForAudit = (dataDir: string): SqliteTransparencyLog => {
  const db = openReadingConnection(join(dataDir, TRANSPARENCY_DB_FILE));
  try {
    return new SqliteTransparencyLog(db, { readOnly: true });
  } catch (error) {
    db.close();
    throw error;
  }
};
