import type { StoredCheckpoint, TransparencyLogStore } from '../../domain/ports/transparency-log.ts';
import { utf8 } from '../../domain/crypto/index.ts';
import { formatCheckpointText } from '../../domain/transparency/checkpoint.ts';
import type { CheckpointSigner } from '../../domain/transparency/checkpoint-signer.ts';
import { formatSignedNote, noteKeyId } from '../../domain/transparency/note.ts';

/** Signs a note text (a checkpoint, a stream head) with the log key: a C2SP signed note with one signature line. */
export const signNote = async (signer: CheckpointSigner, text: string): Promise<string> => {
  const signature = await signer.sign(utf8(text));
  return formatSignedNote({
    text,
    signatures: [{ keyName: signer.keyName, keyId: noteKeyId(signer.keyName, signer.publicKey), signature }],
  });
};

/**
 * Signs the log's current tree head as a C2SP checkpoint and keeps it (issue 4 item 3). A tree size that
 * already has a checkpoint gets no second one: the first is returned.
 */
export const signCheckpoint = async (args: {
  readonly log: TransparencyLogStore;
  readonly signer: CheckpointSigner;
  readonly origin: string;
  readonly now: () => Date;
}): Promise<StoredCheckpoint> => {
  const { log, signer } = args;
  const treeSize = log.size();
  const existing = log.checkpointAt(treeSize);
  if (existing !== undefined) return existing;
  const rootHash = log.rootHash(treeSize);
  const time = args.now().toISOString();
  const note = await signNote(signer, formatCheckpointText({ origin: args.origin, treeSize, rootHash, time }));
  const checkpoint: StoredCheckpoint = { treeSize, rootHash, time, note };
  log.saveCheckpoint(checkpoint);
  return log.checkpointAt(treeSize) ?? checkpoint;
};
