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
 * What the key signed last must still hold: its note verifies under this key, and the log's first `treeSize` leaves
 * still hash to its root. Someone who can write the data folder but not use the key (it is in the Secure
 * Environment) rewrote an event, its leaf and the stored subtree hashes, and the next checkpoint signed that history
 * with the genuine key: every proof and bundle of the forged event then verified (found in review).
 */
const assertExtendsLatest = (log: TransparencyLogStore, signer: CheckpointSigner, treeSize: number): void => {
  const latest = log.latestCheckpoint();
  if (latest === undefined) return;
  const opened = openCheckpoint(latest.note, noteVerifierKey(signer.keyName, signer.publicKey));
  if (!opened.ok) throw new TransparencyLogForked(`its latest checkpoint (tree size ${latest.treeSize}) is not one this key signed: ${opened.message}`);
  if (opened.checkpoint.treeSize > treeSize) throw new TransparencyLogForked(`its latest checkpoint signs ${opened.checkpoint.treeSize} leaves, the log holds ${treeSize}`);
  if (!constantTimeEqual(log.rootHash(opened.checkpoint.treeSize), opened.checkpoint.rootHash)) {
    throw new TransparencyLogForked(
      `its first ${opened.checkpoint.treeSize} leaves no longer hash to the checkpoint this key signed at that size: the log file was altered`,
    );
  }
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
  const treeSize = log.size();
  assertExtendsLatest(log, signer, treeSize);
  const existing = log.checkpointAt(treeSize);
  if (existing !== undefined) return existing;
  const rootHash = log.rootHash(treeSize);
  const time = args.now().toISOString();
  const note = await signNote(signer, formatCheckpointText({ origin: args.origin, treeSize, rootHash, time }));
  const checkpoint: StoredCheckpoint = { treeSize, rootHash, time, note };
  log.saveCheckpoint(checkpoint);
  return log.checkpointAt(treeSize) ?? checkpoint;
};
