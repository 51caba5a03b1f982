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

/**
 * Per log (the object a process holds): the latest checkpoint this process found signed by the key and extended, so
 * that a signature costs no second verification of the same note, and a log whose checkpoints shrank or vanished while
 * the process ran is refused. Only a checkpoint kept outside the folder (an auditor's `--checkpoint`, a witness) tells
 * a log rewritten with its checkpoints deleted while no process held it (found in review of this check).
 */
const seen = new WeakMap<TransparencyLogStore, StoredCheckpoint>();

/**
 * What the key signed last must still hold: its note verifies under this key, and the log's first `treeSize` leaves
 * still hash to its root. Someone who can write the data folder but not use the key (it is in the Secure
 * Environment) rewrote an event, its leaf and the stored subtree hashes, and the next checkpoint signed that history
 * with the genuine key: every proof and bundle of the forged event then verified (found in review).
 */
const assertExtendsLatest = (log: TransparencyLogStore, signer: CheckpointSigner): void => {
  const latest = log.latestCheckpoint();
  const before = seen.get(log);
  if (before !== undefined && (latest === undefined || latest.treeSize < before.treeSize)) {
    throw new TransparencyLogForked(`its latest checkpoint signs ${latest?.treeSize ?? 0} leaves, where this process saw one of ${before.treeSize}: checkpoints were removed`);
  }
  if (latest === undefined) return;
  if (before?.note !== latest.note) {
    const opened = openCheckpoint(latest.note, noteVerifierKey(signer.keyName, signer.publicKey));
    if (!opened.ok) throw new TransparencyLogForked(`its latest checkpoint (tree size ${latest.treeSize}) is not one this key signed: ${opened.message}`);
  }
  // Read after the latest checkpoint, which brings this connection's view up to what another process logged.
  const size = log.size();
  if (latest.treeSize > size) throw new TransparencyLogForked(`its latest checkpoint signs ${latest.treeSize} leaves, the log holds ${size}`);
  for (const signed of before === undefined || before.note === latest.note ? [latest] : [before, latest]) {
    if (!constantTimeEqual(log.rootHash(signed.treeSize), signed.rootHash)) {
      throw new TransparencyLogForked(`its first ${signed.treeSize} leaves no longer hash to the checkpoint this key signed at that size: the log file was altered`);
    }
  }
  seen.set(log, latest);
};

/**
 * Signs the log's current tree head as a C2SP checkpoint and keeps it (issue 4 item 3), once the tree is found to
 * extend the latest checkpoint (`assertExtendsLatest`). A tree size that already has a checkpoint gets no second
 * one: the first is returned.
 */
export const signCheckpoint = async (args: {
  readonly log: TransparencyLogStore;
  readonly signer: CheckpointSigner;
  readonly origin: string;
  readonly now: () => Date;
}): Promise<StoredCheckpoint> => {
  const { log, signer } = args;
  assertExtendsLatest(log, signer);
  const treeSize = log.size();
  const existing = log.checkpointAt(treeSize);
  if (existing !== undefined) return existing;
  const rootHash = log.rootHash(treeSize);
  const time = args.now().toISOString();
  const note = await signNote(signer, formatCheckpointText({ origin: args.origin, treeSize, rootHash, time }));
  const checkpoint: StoredCheckpoint = { treeSize, rootHash, time, note };
  log.saveCheckpoint(checkpoint);
  const kept = log.checkpointAt(treeSize) ?? checkpoint;
  // Another process's checkpoint of the same size, kept first, is verified when it is next the latest.
  if (kept.note === note) seen.set(log, kept);
  return kept;
};
