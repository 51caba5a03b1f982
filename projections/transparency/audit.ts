import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { TransparencyLogAltered, type LoggedLeaf, type TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import type { Checkpoint } from '../../domain/transparency/checkpoint.ts';
import { appendLeafHash, emptyFrontier, frontierRoot, type Frontier } from '../../domain/transparency/frontier.ts';
import { eventLeafHash } from '../../domain/transparency/leaf.ts';
import type { NoteVerifierKey } from '../../domain/transparency/note.ts';
import { openCheckpoint } from '../../domain/transparency/verify-result.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { alteredLeafMessage } from './altered-leaf.ts';
import { leafGap, leafMismatch, missingEvent, scavengedAway, signedLeafDisagreement, storeAltered, type LeafFinding } from './audit-leaf.ts';
import { storedNodesAgree } from './audit-nodes.ts';
import { earlierCheckpoints, signedTreeMissed, type Held } from './audit-checkpoints.ts';
import type { AuditedRow, AuditReport } from './audit-report.ts';

type Log = Pick<TransparencyLogStore, 'leaves' | 'latestCheckpoint' | 'leafByEventId' | 'size' | 'checkpoints' | 'nodeHash'>;

/**
 * Tamper detection (issue 4 item 7, SER-003): walks the stored events and the log's leaves together in global
 * order, recomputing every leaf hash, and reports the FIRST position where they disagree and how. On the way the
 * stored history must hash to every checkpoint the log kept, and in the end to the latest signed one, so an attacker
 * who rewrote the log file as well is still caught without the log key.
 */
export const auditStoreAgainstLog = async (args: AuditArgs): Promise<AuditReport> => {
  try {
    return await audit(args);
  } catch (error) {
    // A checkpoint row that disagrees with its own note, or signs more than the file holds (the log's readers).
    if (error instanceof TransparencyLogAltered) return { ok: false, kind: 'log_mismatch', message: error.message };
    throw error;
  }
};

interface AuditArgs {
  readonly storedEvents: Iterable<AuditedRow> | AsyncIterable<AuditedRow>;
  readonly log: Log;
  readonly logPublicKey: NoteVerifierKey;
  /**
   * A checkpoint of this log the auditor kept from an earlier audit (its signed note). Without one, the audit can
   * only compare the files with the newest checkpoint they hold: someone who rewrote both and deleted the checkpoints
   * past the rewrite passes. With it, the log must still be at least that large and hash to it there.
   */
  readonly saved?: string;
  /**
   * Whether a process held the data folder while the audit read it, asked once the walk is done: beside a running
   * service, leaves no checkpoint covers are signed within its checkpoint period, which the verdict says. It decides
   * no verdict: leaf hashes take no key, and a lock proves nothing (review 97).
   */
  readonly heldByLiveService?: () => boolean;
  /**
   * The store's `gapless` (domain/ports/event-store.ts), true when not given (the embedded store, what `verify --data`
   * reads). False (EventStoreDB): another application's logged record the store no longer holds is not a deletion.
   */
  readonly gapless?: boolean;
}

const audit = async (args: AuditArgs): Promise<AuditReport> => {
  const stored = args.log.latestCheckpoint();
  let checkpoint: Checkpoint | undefined;
  if (stored !== undefined) {
    const opened = openCheckpoint(stored.note, args.logPublicKey);
    if (!opened.ok) return { ok: false, kind: 'bad_checkpoint', message: opened.message };
    checkpoint = opened.checkpoint;
  }
  let saved: Checkpoint | undefined;
  if (args.saved !== undefined) {
    const opened = openCheckpoint(args.saved, args.logPublicKey);
    if (!opened.ok) return { ok: false, kind: 'bad_checkpoint', message: `the saved checkpoint: ${opened.message}` };
    saved = opened.checkpoint;
    // Both sign one size with other roots: the log forked, `inconsistent` as every other mode of verify says it
    // (domain/transparency/verify-consistency.ts), not a rollback (review 321).
    if (checkpoint !== undefined && checkpoint.treeSize === saved.treeSize && !constantTimeEqual(checkpoint.rootHash, saved.rootHash)) {
      return {
        ok: false,
        kind: 'inconsistent',
        message: `the log's latest checkpoint and the saved one both sign a tree of size ${saved.treeSize}, with other roots: the log forked`,
      };
    }
    if ((checkpoint?.treeSize ?? 0) < saved.treeSize) {
      return {
        ok: false,
        kind: 'rolled_back',
        message: `the log's latest checkpoint signs ${checkpoint?.treeSize ?? 0} events, the saved one ${saved.treeSize}: checkpoints were removed, or the log replaced`,
      };
    }
  }
  const rows = (
    Symbol.asyncIterator in args.storedEvents
      ? args.storedEvents[Symbol.asyncIterator]()
      : args.storedEvents[Symbol.iterator]()
  ) as Iterator<AuditedRow> | AsyncIterator<AuditedRow>;
  try {
    const report = await walk(rows, args.log, checkpoint, saved, args.logPublicKey, args.heldByLiveService ?? (() => false), args.gapless ?? true);
    return report.ok ? { ...report, checkpointNote: stored?.note } : report;
  } finally {
    // Stopping at the first finding must still release the reader (it holds the events file open).
    await rows.return?.();
  }
};

/** What the walk finds; the latest checkpoint's note is added to a pass by `audit`, which read it. */
type Walked = Exclude<AuditReport, { ok: true }> | Omit<Extract<AuditReport, { ok: true }>, 'checkpointNote'>;


/** What an audit that verified nothing tells the auditor, whatever left the log so. */
const UNVOUCHED =
  'A log whose signing failed or was cut off (a Secure Environment down, a kill before its first signature), one not caught up with its store, ' +
  'and one whose checkpoints (and leaves) were removed all look like this: hold the folder to a checkpoint kept from an earlier audit ' +
  '(--checkpoint SAVED), which a log emptied or rewritten fails, before a service signs it; once signed, the events are vouched for as they are stored now';

/** Whether the log keeps the subtree hash at `level`, `index` (a missing row throws a plain error: audit-nodes.ts). */
const keepsNode = (log: Pick<Log, 'nodeHash'>, level: number, index: number): boolean => {
  try {
    log.nodeHash(level, index);
    return true;
  } catch (error) {
    // A file SQLite cannot read is the log's own refusal.
    if (isCredenceError(error)) throw error;
    return false;
  }
};

/**
 * The level of a subtree hash the log keeps over leaf `size`, the one after the last the walk read, while that leaf
 * is not there: only that leaf could have made it, so leaves were deleted from the end. At each level the one subtree
 * that would hold that leaf is asked (63 reads at most). The leaf is asked after the node: a node and its leaves are
 * committed together, so a live service appending meanwhile shows the leaf too (review 103: the count taken when the
 * file opened made every second append beside a live service read as deleted leaves). A single deleted last leaf
 * completes no subtree of its own, and leaves no such trace.
 */
const traceOfDeletedLeaves = (log: Pick<Log, 'nodeHash'>, size: number): number | undefined => {
  for (let level = 1; level < 63; level++) {
    if (keepsNode(log, level, Math.floor(size / 2 ** level))) return keepsNode(log, 0, size) ? undefined : level;
  }
  return undefined;
};

/** The stored rows after the one the walk stopped at: the one it looked ahead to, then the rest. */
const rowsFrom = (ahead: AuditedRow | undefined, nextRow: () => Promise<AuditedRow | undefined>): (() => Promise<AuditedRow | undefined>) => {
  let first = true;
  return async () => {
    if (!first) return nextRow();
    first = false;
    return ahead;
  };
};

const walk = async (
  rows: Iterator<AuditedRow> | AsyncIterator<AuditedRow>,
  log: Log,
  checkpoint: Checkpoint | undefined,
  saved: Checkpoint | undefined,
  key: NoteVerifierKey,
  heldByLiveService: () => boolean,
  gapless: boolean,
): Promise<Walked> => {
  const nextRow = async (): Promise<AuditedRow | undefined> => {
    const result = await rows.next();
    return result.done ? undefined : result.value;
  };
  const signedSize = checkpoint?.treeSize ?? 0;
  const leaves = log.leaves()[Symbol.iterator]();
  const nextLeaf = (): LoggedLeaf | undefined => leaves.next().value ?? undefined;
  let leaf = nextLeaf();
  let frontier: Frontier = emptyFrontier;
  // Every leaf's, signed or not: the stored subtrees past the checkpoint are what the next proofs are built from.
  let all: Frontier = emptyFrontier;
  // Said only when nothing else is found: stale subtrees beside rewritten leaves are the rewrite, not a damaged cache.
  let badNode: AuditReport | undefined;
  let checked = 0;
  let unlogged = 0;
  let scavenged = 0;
  let savedChecked = saved === undefined || saved.treeSize === 0;
  // The last earlier signed tree the stored history still hashes to, and where the signed one's leaves begin and end:
  // what a finding against the latest checkpoint names.
  let held: Held | undefined;
  const signedPositions: { first?: bigint; last?: bigint } = {};
  const checkEarlier = earlierCheckpoints(log, key, signedSize, (at) => {
    if (at.treeSize > (held?.treeSize ?? 0)) held = { treeSize: at.treeSize, note: at.note };
  });
  /** A leaf's hash added to the tree, which must hash to every checkpoint met on the way: a finding, or undefined. */
  const extend = (hash: Uint8Array, position: bigint, leafIndex: number): AuditReport | undefined => {
    if (leafIndex === 0) signedPositions.first = position;
    if (leafIndex === signedSize - 1) signedPositions.last = position;
    if (held !== undefined && leafIndex === held.treeSize) held.next = position;
    const appended = appendLeafHash(all, hash);
    all = appended.frontier;
    badNode ??= storedNodesAgree(appended.completed, log, position, leafIndex);
    if (frontier.size < signedSize) {
      frontier = all;
      const forked = checkEarlier(frontier, position);
      if (forked !== undefined) return forked;
    }
    // The saved checkpoint is never larger than the latest (checked first): its root is met on the way.
    if (saved !== undefined && frontier.size === saved.treeSize && !savedChecked) {
      savedChecked = true;
      if (!constantTimeEqual(frontierRoot(frontier), saved.rootHash)) {
        return {
          ok: false,
          kind: 'rolled_back',
          position,
          message: `the first ${saved.treeSize} stored events no longer hash to the saved checkpoint: the history was rewritten (both files)`,
        };
      }
      // Opened under the key already: a tree the key signed that still holds.
      if (saved.treeSize < signedSize && saved.treeSize > (held?.treeSize ?? 0)) held = { treeSize: saved.treeSize };
    }
    return undefined;
  };
  /**
   * The leaves before `position` (all left, when undefined) of another application's records the store no longer
   * holds: counted, and their logged hashes taken in the tree, so the checkpoints that signed them still hold the rest.
   */
  const passScavenged = (position: bigint | undefined): AuditReport | undefined => {
    while (leaf !== undefined && (position === undefined || leaf.position < position) && scavengedAway(leaf, gapless)) {
      if (leaf.leafIndex !== all.size) return leafGap(all.size, leaf.position);
      const found = extend(leaf.leafHash, leaf.position, leaf.leafIndex);
      if (found !== undefined) return found;
      scavenged += 1;
      leaf = nextLeaf();
    }
    return undefined;
  };
  /**
   * A leaf inside the signed tree that disagrees with the stored event at its index (a parsed row: one that does not
   * parse is the store's) is the store's only if the stored events no longer hash to what the log key signed
   * (audit-leaf.ts, review 164); `store` says how. Past the signed tree, `store` as it is.
   */
  const judged = <F extends { readonly message: string; readonly position: bigint }>(store: F, at: LoggedLeaf, event: RecordedEvent, next: AuditedRow | undefined, hash = eventLeafHash(event)): F | Promise<F | LeafFinding> =>
    checkpoint === undefined || all.size >= signedSize
      ? store
      : signedLeafDisagreement({ leaf: at, event, hash, store, before: all, rowsAfter: rowsFrom(next, nextRow), log, signed: checkpoint });
  // One row of look-ahead tells an inserted event from an edited one.
  let row = await nextRow();
  let ahead = row && (await nextRow());
  for (; row !== undefined; row = ahead, ahead = row && (await nextRow())) {
    const position = row.ok ? row.event.position : row.position;
    const passed = passScavenged(position);
    if (passed !== undefined) return passed;
    if (leaf === undefined) {
      unlogged += 1;
      continue;
    }
    // A leaf index missing before the walk meets the positions around it, which would blame the store (audit-leaf.ts).
    if (leaf.leafIndex !== all.size) return leafGap(all.size, position);
    if (leaf.position < position) return row.ok ? judged(missingEvent(leaf), leaf, row.event, ahead) : missingEvent(leaf);
    if (leaf.position > position) {
      const inserted = { ok: false, kind: 'inserted', position, message: `the store holds an event at position ${position}, which the log never recorded` } as const;
      return row.ok ? judged(inserted, leaf, row.event, ahead) : inserted;
    }
    if (!row.ok) {
      return { ok: false, kind: 'edited', position, leafIndex: leaf.leafIndex, message: `the row at position ${position} was edited: ${row.problem}` };
    }
    const hash = eventLeafHash(row.event);
    if (!constantTimeEqual(hash, leaf.leafHash)) {
      return all.size < signedSize ? judged(storeAltered(leaf, row.event, ahead, log), leaf, row.event, ahead, hash) : leafMismatch(leaf, row.event, hash, ahead, log);
    }
    // The leaf hash covers the event id, so a leaf naming another event than the one it hashes had its id altered:
    // it passed, while export and the inclusion route, which find events by it, refused (review 159). Under the signed
    // tree the signature decides, as above: a leaf hash rewritten to match an edited event proves nothing.
    if (leaf.eventId !== row.event.id) {
      return all.size < signedSize
        ? judged(storeAltered(leaf, row.event, ahead, log), leaf, row.event, ahead, hash)
        : { ok: false, kind: 'log_mismatch', position, leafIndex: leaf.leafIndex, message: alteredLeafMessage(leaf, 'leaf_hash', row.event) };
    }
    const slot = leaf.stream;
    if (slot !== undefined && (slot.streamId !== row.event.streamId || slot.revision !== row.event.revision)) {
      return {
        ok: false,
        kind: 'log_mismatch',
        position,
        leafIndex: leaf.leafIndex,
        message: `the log's stream index gives leaf ${leaf.leafIndex} to revision ${slot.revision} of ${slot.streamId}, but its event is revision ${row.event.revision} of ${row.event.streamId}`,
      };
    }
    const found = extend(hash, position, leaf.leafIndex);
    if (found !== undefined) return found;
    checked += 1;
    leaf = nextLeaf();
  }
  const passed = passScavenged(undefined);
  if (passed !== undefined) return passed;
  if (leaf !== undefined) return leaf.leafIndex !== all.size ? leafGap(all.size, leaf.position) : missingEvent(leaf, true);
  if (checkpoint !== undefined) {
    if (frontier.size < signedSize) {
      return { ok: false, kind: 'log_mismatch', message: `the log holds ${log.size()} leaves but its checkpoint signs ${signedSize}` };
    }
    if (!constantTimeEqual(frontierRoot(frontier), checkpoint.rootHash)) return signedTreeMissed(signedSize, held, key, signedPositions);
  }
  // Subtree hashes past the last leaf: leaves deleted from the end (and their checkpoints with them, or the events past
  // them would not be "not logged yet"): proven, whatever checkpoint is left (review 98: the tail cut after a kept
  // checkpoint and a forged event passed as not logged yet). Before a node finding: --repair-nodes, which a node
  // finding offers, would rewrite the nodes from the leaves left and erase the trace (review 103). Over every leaf the
  // walk read (`all`), not only the signed ones (review 104: a tail cut two leaves past a kept checkpoint passed).
  const deletedAt = traceOfDeletedLeaves(log, all.size);
  if (deletedAt !== undefined) {
    return {
      ok: false,
      kind: 'log_mismatch',
      message:
        `the log holds ${all.size} leaves but keeps a subtree hash at level ${deletedAt} over leaf ${all.size}, which only that leaf makes: ` +
        'leaves were deleted from its end (with the checkpoints that signed them)',
    };
  }
  if (badNode !== undefined) return badNode;
  // Stored events no checkpoint covers never pass; TAMPERED only where the files prove it. Leaves with no checkpoint are
  // what a new log holds between logging and signing, and what a service leaves when its signer failed or it was killed
  // before its first signature (review 97); no leaf at all, a log that has not caught up (a crash test). Both are also
  // what checkpoints (and leaves) removed look like, and leaf hashes take no key (review 95): so the verdict vouches for
  // nothing, says so, and never advises signing (that would vouch for whatever history the leaves now hash).
  if (signedSize === 0 && checked + scavenged > 0) {
    const beside = heldByLiveService()
      ? 'A process holds the folder: a running service signs a new log\'s first checkpoint as soon as it logs, so audit again after its checkpoint period; ' +
        'still none then, the service refuses to sign (GET /v1/projections names why: checkpoints removed). '
      : '';
    return {
      ok: false,
      kind: 'not_signed_yet',
      unsignedLeaves: checked + scavenged,
      message: `the log holds ${checked} leaves matching the stored events and no checkpoint signed by the log key, so nothing was verified. ${beside}${UNVOUCHED}`,
    };
  }
  if (signedSize === 0 && unlogged > 0) {
    return {
      ok: false,
      kind: 'not_logged_yet',
      unsignedLeaves: 0,
      message: `the store holds ${unlogged} events and the log none of them, nor a checkpoint signed by the log key, so nothing was verified. ${UNVOUCHED}`,
    };
  }
  return { ok: true, checkedEvents: checked, signedThrough: signedSize, checkpoint, unlogged, ...(scavenged > 0 ? { scavengedForeign: scavenged } : {}) };
};
