import type { HashSource } from '../transparency/tree.ts';

/** Which stream an event belongs to and its revision there, as the leaf's envelope records them. */
export interface StreamSlot {
  readonly streamId: string;
  readonly revision: bigint;
}

/** One leaf of the log: which stored event it is, and the RFC 9162 hash of that event's canonical envelope. */
export interface LoggedLeaf {
  readonly leafIndex: number;
  readonly position: bigint;
  readonly eventId: string;
  readonly leafHash: Uint8Array;
  /**
   * The log's stream index (issue 10 item 4): what lets the log sign how many events a stream has. Undefined only
   * for a leaf logged before the index existed whose event has not been matched to it yet (`indexLeaves`).
   */
  readonly stream?: StreamSlot;
}

export type LeafToAppend = Omit<LoggedLeaf, 'leafIndex' | 'stream'> & { readonly stream: StreamSlot };

/** A checkpoint the log signed: the signed note is the evidence, the other fields index it. */
export interface StoredCheckpoint {
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  readonly time: string;
  /** The whole C2SP signed note (checkpoint text, blank line, signature lines). */
  readonly note: string;
}

/**
 * The log's refusal to go on, kept in its file once made (TransparencyProjection): where the log and the event store
 * parted, by position and hashes alone, so that a restart does not sign on over a store whose newest logged event
 * came back while earlier ones differ. Nothing of the events beyond their leaf hashes.
 */
export interface LogRefusal {
  /** The leaf found not in the store: the log's newest when the refusal was made. */
  readonly leafIndex: number;
  readonly position: bigint;
  /** The leaf hash the log holds there. */
  readonly expectedLeafHash: Uint8Array;
  /** The leaf hash of the event the store held at that position; undefined when it held none. */
  readonly foundLeafHash?: Uint8Array;
  /** When it was made (ISO 8601, the projection's clock). */
  readonly refusedAt: string;
}

/**
 * Persistence of the transparency log (issue 4 item 2): leaves in global order, every complete subtree hash so
 * that roots and proofs cost O(log n) reads, and the signed checkpoints. Synchronous: the embedded store is
 * better-sqlite3, and proofs are a handful of indexed reads.
 */
export interface TransparencyLogStore extends HashSource {
  /**
   * Number of leaves the file holds now, read at each call (review 418): another process's appends (an export killed
   * before it signed) are counted, so that they are signed, proved and exported. What to sign, prove against and count
   * as unsigned; not what this process vouches for: a row another process inserted a moment ago is counted too, checked
   * against nothing. The newest leaf a process vouches for is taken at the count its own append returned, or its check
   * against the store read (newest-leaf.ts), never at a later size().
   */
  size(): number;
  /** Global position of the newest leaf; undefined when the log is empty. */
  lastPosition(): bigint | undefined;
  /**
   * Appends leaves atomically, in order. Positions must be strictly increasing and above lastPosition(). Returns the
   * number of leaves as this append committed them (with what another writer logged before it took the write lock), which
   * a later append of another process's does not move: the newest leaf this process vouches for is the one before it.
   */
  append(leaves: readonly LeafToAppend[]): number;
  /** Root hash of the tree of the first `size` leaves (default: all). */
  rootHash(size?: number): Uint8Array;
  /**
   * The same root as the file stores it now, from its subtree hashes, never from what this connection keeps in memory:
   * what the log key's checks compare with a checkpoint, so a file altered under a running process is seen (review 108).
   */
  storedRootHash(size: number): Uint8Array;
  inclusionProof(leafIndex: number, treeSize: number): Uint8Array[];
  consistencyProof(first: number, second: number): Uint8Array[];
  leafAt(leafIndex: number): LoggedLeaf | undefined;
  /**
   * The newest leaf as the file holds it now, one read, never from what this connection counted: another process may
   * have appended since, or inserted a row (newest-leaf.ts).
   */
  newestLeaf(): LoggedLeaf | undefined;
  leafByPosition(position: bigint): LoggedLeaf | undefined;
  leafByEventId(eventId: string): LoggedLeaf | undefined;
  /** Leaves in index order from `fromIndex`, read in pages. */
  leaves(fromIndex?: number): Iterable<LoggedLeaf>;
  /** The leaves the stream index gives to `streamId` among the first `treeSize` leaves, in leaf order. */
  streamLeaves(streamId: string, treeSize: number): LoggedLeaf[];
  /** The first leaf that is not in the stream index (logged before it existed); undefined when there is none. */
  firstUnindexedLeaf(): LoggedLeaf | undefined;
  /** Enters leaves logged before the stream index into it. A leaf already indexed is left as it is. */
  indexLeaves(slots: readonly ({ readonly leafIndex: number } & StreamSlot)[]): void;
  /**
   * Keeps a signed checkpoint; a second one for the same tree size is ignored. The readers below fail (the log file
   * was altered) on a kept checkpoint whose fields disagree with its note's text, or that signs more leaves than the
   * log holds; they do not check the note's signature, which needs the log key (`signCheckpoint`, the audit do).
   */
  saveCheckpoint(checkpoint: StoredCheckpoint): void;
  latestCheckpoint(): StoredCheckpoint | undefined;
  /** The smallest checkpoint whose tree holds at least `size` leaves. */
  checkpointCovering(size: number): StoredCheckpoint | undefined;
  checkpointAt(treeSize: number): StoredCheckpoint | undefined;
  /** Every checkpoint kept, smallest tree first, read in pages. */
  checkpoints(): Iterable<StoredCheckpoint>;
  /** The refusal kept in the log file, if one is (one at most: the first made stands until cleared). */
  keptRefusal(): LogRefusal | undefined;
  /** Keeps `refusal` unless one is kept already. */
  keepRefusal(refusal: LogRefusal): void;
  clearRefusal(): void;
  close(): void;
}

/**
 * The log file was altered: a checkpoint row says another tree size, root or time than the signed note it keeps, or
 * signs more leaves than the file holds. The row's columns index the note, and what picks "the latest"
 * checkpoint goes by them: one planted row reusing an old note under a huge tree size stopped every later signature
 * and froze evidence bundles at the old tree (found in review). Nothing is served or signed from such a file.
 */
export class TransparencyLogAltered extends Error {
  readonly code = 'transparency_log_altered';

  constructor(detail: string) {
    super(`the transparency log file was altered: ${detail}`);
    this.name = 'TransparencyLogAltered';
  }
}
