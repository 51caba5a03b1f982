import type { CheckpointWitness } from '../../domain/ports/checkpoint-witness.ts';
import type { StoredCheckpoint, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { utf8 } from '../../domain/crypto/index.ts';
import { formatCheckpointText } from '../../domain/transparency/checkpoint.ts';
import type { CheckpointSigner } from '../../domain/transparency/checkpoint-signer.ts';
import { formatSignedNote, noteKeyId, noteVerifierKey } from '../../domain/transparency/note.ts';
import { constantTimeEqual } from '../../domain/crypto/index.ts';
import { openCheckpoint } from '../../domain/transparency/verify-result.ts';

/** Signs a note text (a checkpoint, a stream head) with the log key: a C2SP signed note with one signature line. */
export const signNote = async (signer: CheckpointSigner, text: string): Promise<string> => {
  const signature = await signer.sign(utf8(text));
  return formatSignedNote({
    text,
    signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }],
  });
};

/** The log key will not sign this log's tree: it does not extend what the key signed before (SER-003). */
export class TransparencyLogForked extends Error {
  readonly code = 'transparency_log_forked';

  constructor(detail: string) {
    super(`refusing to sign the transparency log: ${detail}`);
    this.name = 'TransparencyLogForked';
  }
}

/** What a log was last held to: a checkpoint this process saw, or the one its checkpoint witness keeps (`witness`: where). */
interface HeldTo {
  readonly checkpoint: StoredCheckpoint;
  readonly witness?: string;
}

/**
 * Per log (the object a process holds): the latest checkpoint this process found signed by the key and extended, so
 * that a signature costs no second verification of the same note, and a log whose checkpoints shrank or vanished while
 * the process ran is refused. Across restarts only a checkpoint kept outside the folder tells a log rewritten with its
 * checkpoints deleted while no process held it: the service's checkpoint witness (`holdToWitness`), an auditor's
 * `--checkpoint`.
 */
const seen = new WeakMap<TransparencyLogStore, HeldTo>();

/**
 * What the key signed last must still hold: its note verifies under this key, and the log's first `treeSize` leaves
 * still hash to its root. Someone who can write the data folder but not use the key (it is in the Secure
 * Environment) rewrote an event, its leaf and the stored subtree hashes, and the next checkpoint signed that history
 * with the genuine key: every proof and bundle of the forged event then verified (found in review). Returns the
 * latest checkpoint, verified.
 */
const assertExtends = (log: TransparencyLogStore, signer: CheckpointSigner, before: HeldTo | undefined): StoredCheckpoint | undefined => {
  const latest = log.latestCheckpoint();
  if (before !== undefined && (latest === undefined || latest.treeSize < before.checkpoint.treeSize)) {
    throw new TransparencyLogForked(
      `its latest checkpoint signs ${latest?.treeSize ?? 0} leaves, where ` +
        (before.witness === undefined
          ? `this process saw one of ${before.checkpoint.treeSize}: checkpoints were removed`
          : `the checkpoint witness ${before.witness} keeps one of ${before.checkpoint.treeSize}: checkpoints were removed, or the log was put back from an older copy`),
    );
  }
  if (latest === undefined) return undefined;
  if (before?.checkpoint.note !== latest.note) {
    const opened = openCheckpoint(latest.note, noteVerifierKey(signer.keyName, signer.publicKey));
    if (!opened.ok) throw new TransparencyLogForked(`its latest checkpoint (tree size ${latest.treeSize}) is not one this key signed: ${opened.message}`);
  }
  // Read after the latest checkpoint, which brings this connection's view up to what another process logged.
  const size = log.size();
  if (latest.treeSize > size) throw new TransparencyLogForked(`its latest checkpoint signs ${latest.treeSize} leaves, the log holds ${size}`);
  const held: HeldTo[] = before === undefined || before.checkpoint.note === latest.note ? [{ checkpoint: latest }] : [before, { checkpoint: latest }];
  for (const { checkpoint, witness } of held) {
    if (!constantTimeEqual(log.storedRootHash(checkpoint.treeSize), checkpoint.rootHash)) {
      const whose = witness === undefined ? 'the checkpoint this key signed at that size' : `the checkpoint this key signed at that size, kept by the checkpoint witness ${witness}`;
      throw new TransparencyLogForked(`its first ${checkpoint.treeSize} leaves no longer hash to ${whose}: the log file was altered`);
    }
  }
  seen.set(log, { checkpoint: latest });
  return latest;
};

/**
 * The log still extends what the key signed last (`assertExtends`), asked with nothing new to sign: a quiet service
 * otherwise learnt that its checkpoints were removed or its leaves altered only at its next signature (review 98).
 */
export const assertStillSigned = (log: TransparencyLogStore, signer: CheckpointSigner): void => {
  assertExtends(log, signer, seen.get(log));
};

/** The checkpoint witness holds a note this log key did not sign: another log's, or no checkpoint at all. */
export class CheckpointWitnessOfAnotherLog extends Error {
  readonly code = 'checkpoint_witness_of_another_log';

  constructor(detail: string) {
    super(detail);
    this.name = 'CheckpointWitnessOfAnotherLog';
  }
}

/**
 * Holds the log to the checkpoint its witness keeps (review 98), before this process signs anything: the log must
 * extend it (TransparencyLogForked otherwise), and it must be this key's (CheckpointWitnessOfAnotherLog). Returns the
 * tree size the witness keeps (0 when it keeps none) and the log's latest checkpoint, verified, for the witness to keep
 * when it is larger.
 */
export const holdToWitness = (
  log: TransparencyLogStore,
  signer: CheckpointSigner,
  witness: CheckpointWitness,
): { readonly witnessed: number; readonly latest: StoredCheckpoint | undefined } => {
  const note = witness.read();
  if (note === undefined) return { witnessed: 0, latest: assertExtends(log, signer, seen.get(log)) };
  const opened = openCheckpoint(note, noteVerifierKey(signer.keyName, signer.publicKey));
  if (!opened.ok) throw new CheckpointWitnessOfAnotherLog(`${witness.where} does not hold a checkpoint of this log (${opened.reason}): ${opened.message}`);
  const { treeSize, rootHash, time } = opened.checkpoint;
  const witnessed: HeldTo = { checkpoint: { treeSize, rootHash, time, note }, witness: witness.where };
  const before = seen.get(log);
  return { witnessed: treeSize, latest: assertExtends(log, signer, before !== undefined && before.checkpoint.treeSize > treeSize ? before : witnessed) };
};

/**
 * Signs the log's current tree head as a C2SP checkpoint and keeps it (issue 4 item 3), once the tree is found to
 * extend the latest checkpoint (`assertExtends`). A tree size that already has a checkpoint gets no second
 * one: the first is returned.
 */
export const signCheckpoint = async (args: {
  readonly log: TransparencyLogStore;
  readonly signer: CheckpointSigner;
  readonly origin: string;
  readonly now: () => Date;
  /** The leaves signed: the caller's count held to the store (no larger than the log's); else the log's count. */
  readonly treeSize?: number;
}): Promise<StoredCheckpoint> => {
  const { log, signer } = args;
  const latest = assertExtends(log, signer, seen.get(log));
  // Never below the latest checkpoint (this key signed its leaves; a smaller one after it would read as a rollback).
  const treeSize = Math.max(latest?.treeSize ?? 0, Math.min(args.treeSize ?? Number.POSITIVE_INFINITY, log.size()));
  const existing = log.checkpointAt(treeSize);
  if (existing !== undefined) return existing;
  const rootHash = log.rootHash(treeSize);
  const time = args.now().toISOString();
  const note = await signNote(signer, formatCheckpointText({ origin: args.origin, treeSize, rootHash, time }));
  const checkpoint: StoredCheckpoint = { treeSize, rootHash, time, note };
  log.saveCheckpoint(checkpoint);
  const kept = log.checkpointAt(treeSize) ?? checkpoint;
  // Another process's checkpoint of the same size, kept first, is verified when it is next the latest.
  if (kept.note === note) seen.set(log, { checkpoint: kept });
  return kept;
};
