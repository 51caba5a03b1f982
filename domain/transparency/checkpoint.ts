import { HASH_SIZE } from './hashing.ts';
import { fromBase64, toBase64 } from './bytes.ts';
import { isValidKeyName, KEY_NAME_RULE } from './note.ts';

/**
 * The body of a C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash. The time
 * of the checkpoint (issue 4, item 3) travels as an extension line `time <RFC 3339 UTC>`: the spec allows
 * opaque extension lines, and putting the time inside the signed text is what lets an auditor trust it.
 */

export interface Checkpoint {
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  /** ISO 8601 / RFC 3339 UTC instant at which the log signed this tree head. */
  readonly time: string;
}

const TIME_PREFIX = 'time ';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

export const formatCheckpointText = (checkpoint: Checkpoint): string => {
  if (!isValidKeyName(checkpoint.origin)) throw new Error(`origin: ${KEY_NAME_RULE}`);
  if (!Number.isSafeInteger(checkpoint.treeSize) || checkpoint.treeSize < 0) throw new Error('treeSize: invalid');
  if (checkpoint.rootHash.length !== HASH_SIZE) throw new Error('rootHash: expected 32 bytes');
  if (!ISO_UTC.test(checkpoint.time)) throw new Error('time: expected an RFC 3339 UTC instant');
  return `${checkpoint.origin}\n${checkpoint.treeSize}\n${toBase64(checkpoint.rootHash)}\n${TIME_PREFIX}${checkpoint.time}\n`;
};

export type CheckpointParse =
  | { readonly ok: true; readonly checkpoint: Checkpoint }
  | { readonly ok: false; readonly reason: string };

/** Parses a checkpoint note text (the signed part of the note, final newline included). */
export const parseCheckpointText = (text: string): CheckpointParse => {
  if (!text.endsWith('\n')) return { ok: false, reason: 'checkpoint text must end in a newline' };
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) return { ok: false, reason: 'checkpoint needs origin, tree size and root hash lines' };
  if (lines.some((line) => line.length === 0)) return { ok: false, reason: 'checkpoint lines must be non-empty' };
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  // The note's text holds no C0 control already (note.ts); DEL and C1 neither, in a line printed in messages.
  if (/[\u007f-\u009f]/.test(origin)) return { ok: false, reason: 'the origin line holds a control character' };
  if (!DECIMAL.test(sizeText)) return { ok: false, reason: 'tree size is not a decimal without leading zeroes' };
  const treeSize = Number(sizeText);
  if (!Number.isSafeInteger(treeSize)) return { ok: false, reason: 'tree size is too large' };
  const rootHash = fromBase64(rootText);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) return { ok: false, reason: 'root hash is not 32 bytes of base64' };
  const timeLines = extensions.filter((line) => line.startsWith(TIME_PREFIX));
  if (timeLines.length !== 1) return { ok: false, reason: 'checkpoint must carry exactly one time extension line' };
  const time = timeLines[0]!.slice(TIME_PREFIX.length);
  if (!ISO_UTC.test(time) || Number.isNaN(Date.parse(time))) return { ok: false, reason: 'time is not an RFC 3339 UTC instant' };
  return { ok: true, checkpoint: { origin, treeSize, rootHash, time } };
};
