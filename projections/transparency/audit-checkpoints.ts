import type { StoredCheckpoint, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { frontierRoot, type Frontier } from '../../domain/transparency/frontier.ts';
import type { NoteVerifierKey } from '../../domain/transparency/note.ts';
import { openCheckpoint } from '../../domain/transparency/verify-result.ts';
import type { AuditReport, TamperKind } from './audit-report.ts';

/**
 * The history at each earlier checkpoint the log kept: the log key signed it, so the stored events must still hash to
 * it. Comparing with the latest alone let a history rewritten in both files, then signed again by the service (the
 * key in the Secure Environment, its folder writable), pass while the honest earlier checkpoints sat in the same file
 * (found in review). Signatures are checked only where a root disagrees: a row no key signed is then `bad_checkpoint`.
 */
export const earlierCheckpoints = (log: Pick<TransparencyLogStore, 'checkpoints'>, key: NoteVerifierKey, signedSize: number, held: (at: StoredCheckpoint) => void) => {
  const kept = log.checkpoints()[Symbol.iterator]();
  let next = kept.next().value as StoredCheckpoint | undefined;
  return (frontier: Frontier, position: bigint): AuditReport | undefined => {
    while (next !== undefined && next.treeSize < frontier.size) next = kept.next().value ?? undefined;
    if (next === undefined || next.treeSize !== frontier.size || next.treeSize >= signedSize) return undefined;
    const at = next;
    next = kept.next().value ?? undefined;
    if (constantTimeEqual(frontierRoot(frontier), at.rootHash)) {
      held(at);
      return undefined;
    }
    const opened = openCheckpoint(at.note, key);
    if (!opened.ok) return { ok: false, kind: 'bad_checkpoint', position, message: `the checkpoint of tree size ${at.treeSize}: ${opened.message}` };
    return {
      ok: false,
      kind: 'forked',
      position,
      message: `the first ${at.treeSize} stored events no longer hash to the checkpoint the log key signed at that size (${at.time}): the history was rewritten in both files and signed again`,
    };
  };
};

/** The last earlier checkpoint the stored history still hashes to, and the position of the leaf after it. */
export interface Held {
  readonly treeSize: number;
  /** Its note, its signature not checked yet (only where a finding rests on it); none for the saved one, opened already. */
  readonly note?: string;
  next?: bigint;
}

/**
 * The stored events match the log file but not its latest signed checkpoint (review 296: "both files were altered" was
 * said, though a checkpoint the log key signed of another tree of that size, a fork under the key, reads the same, and
 * nothing said where). Named: the leaves after the last earlier checkpoint signed by the key that still holds.
 */
export const signedTreeMissed = (
  signedSize: number,
  held: Held | undefined,
  key: NoteVerifierKey,
  positions: { readonly first?: bigint; readonly last?: bigint },
): Extract<AuditReport, { kind: TamperKind }> => {
  const from = held !== undefined && (held.note === undefined || openCheckpoint(held.note, key).ok) ? held : undefined;
  const first = from === undefined ? positions.first : from.next;
  const where =
    from !== undefined
      ? `the first ${from.treeSize} still hash to the checkpoint of tree size ${from.treeSize} the log key signed`
      : held !== undefined
        ? // A row the file keeps that no key signed vouches for nothing: the range is not narrowed by it.
          `the checkpoint row of tree size ${held.treeSize} they hash to is not signed by the log key, so no earlier checkpoint is taken to hold`
        : 'no earlier checkpoint signed by the log key holds any of them';
  const leaves = { first: from?.treeSize ?? 0, last: signedSize - 1 };
  const range = first !== undefined && positions.last !== undefined ? { leaves, positions: { first, last: positions.last } } : undefined;
  const at = range === undefined ? `leaves ${leaves.first} to ${leaves.last}` : `leaves ${leaves.first} to ${leaves.last} (positions ${range.positions.first} to ${range.positions.last})`;
  return {
    ok: false,
    kind: 'log_mismatch',
    message:
      `the first ${signedSize} stored events match the log file but not its signed checkpoint of that size; ${where}, so they part from it in ${at}: ` +
      'the log file and the events were rewritten there, or the checkpoint is another signed tree of that size (a fork under this key)',
    ...(range !== undefined ? { range } : {}),
  };
};
