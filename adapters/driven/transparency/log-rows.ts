import { parseCheckpointText } from '../../../domain/transparency/checkpoint.ts';
import { parseSignedNote } from '../../../domain/transparency/note.ts';
import { constantTimeEqual } from '../../../domain/crypto/index.ts';
import { HASH_SIZE } from '../../../domain/transparency/hashing.ts';
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

/*
 * SQLite keeps any value in any column (a column's type is an affinity, not a rule): a value of another type is the
 * file edited, said as such (TransparencyLogAltered) before the log uses it. A note kept as a blob reached the note
 * parser as a Buffer ("text.endsWith is not a function"), a leaf index of 2^62 a Number that is no index (review 88).
 */
const altered = (table: string, column: string, rule: string): never => {
  throw new TransparencyLogAltered(`the ${column} of a row of ${table} is not ${rule}`);
};
/** A column read as a safe integer (the driver returns bigints): an index or a tree size, 0 to 2^53 - 1. */
export const indexIn = (table: string, column: string, value: unknown): number =>
  typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : altered(table, column, 'an integer from 0 to 2^53 - 1');
/** A position or a revision: an integer a store holds (0 to 2^63 - 1). */
const bigintIn = (table: string, column: string, value: unknown): bigint =>
  typeof value === 'bigint' && value >= 0n ? value : altered(table, column, 'a non-negative integer');
const textIn = (table: string, column: string, value: unknown): string => (typeof value === 'string' ? value : altered(table, column, 'text'));
/** A hash as a blob of HASH_SIZE bytes. */
export const hashIn = (table: string, column: string, value: unknown): Uint8Array =>
  Buffer.isBuffer(value) && value.length === HASH_SIZE ? new Uint8Array(value) : altered(table, column, `a blob of ${HASH_SIZE} bytes`);

export const toRefusal = (row: RefusalRow): LogRefusal => ({
  leafIndex: indexIn('refusal', 'leaf_index', row.leaf_index),
  position: bigintIn('refusal', 'position', row.position),
  expectedLeafHash: hashIn('refusal', 'expected_hash', row.expected_hash),
  ...(row.found_hash !== null ? { foundLeafHash: hashIn('refusal', 'found_hash', row.found_hash) } : {}),
  refusedAt: textIn('refusal', 'refused_at', row.refused_at),
});

export const toLeaf = (row: LeafRow): LoggedLeaf => ({
  leafIndex: indexIn('leaves', 'leaf_index', row.leaf_index),
  position: bigintIn('leaves', 'position', row.position),
  eventId: textIn('leaves', 'event_id', row.event_id),
  leafHash: hashIn('leaves', 'leaf_hash', row.leaf_hash),
  ...(row.stream_id !== null && row.revision !== null
    ? { stream: { streamId: textIn('leaves', 'stream_id', row.stream_id), revision: bigintIn('leaves', 'revision', row.revision) } }
    : {}),
});
const toCheckpoint = (row: CheckpointRow): StoredCheckpoint => ({
  treeSize: indexIn('checkpoints', 'tree_size', row.tree_size),
  rootHash: hashIn('checkpoints', 'root_hash', row.root_hash),
  time: textIn('checkpoints', 'time', row.time),
  note: textIn('checkpoints', 'note', row.note),
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
