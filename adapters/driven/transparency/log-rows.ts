import { parseCheckpointText } from '../../../domain/transparency/checkpoint.ts';
import { parseSignedNote } from '../../../domain/transparency/note.ts';
import { constantTimeEqual } from '../../../domain/crypto/index.ts';
import { TransparencyLogAltered, type LoggedLeaf, type LogRefusal, type StoredCheckpoint } from '../../../domain/ports/transparency-log.ts';

/** The rows of the log file as the driver returns them (safe integers: bigint), and what the log makes of them. */
export interface LeafRow {
  leaf_index: bigint;
  position: bigint;
  event_id: string;
  leaf_hash: Buffer;
  stream_id: string | null;
  revision: bigint | null;
}
export interface CheckpointRow {
  tree_size: bigint;
  root_hash: Buffer;
  time: string;
  note: string;
}

export interface RefusalRow {
  leaf_index: bigint;
  position: bigint;
  expected_hash: Buffer;
  found_hash: Buffer | null;
  refused_at: string;
}

export const toRefusal = (row: RefusalRow): LogRefusal => ({
  leafIndex: Number(row.leaf_index),
  position: row.position,
  expectedLeafHash: new Uint8Array(row.expected_hash),
  ...(row.found_hash !== null ? { foundLeafHash: new Uint8Array(row.found_hash) } : {}),
  refusedAt: row.refused_at,
});

export const toLeaf = (row: LeafRow): LoggedLeaf => ({
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

/** The row, once its columns are found to say what its note says. */
export const checkedCheckpoint = (row: CheckpointRow): StoredCheckpoint => {
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
