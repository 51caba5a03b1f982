import { HASH_SIZE } from './hashing.ts';
import { fromBase64, toBase64 } from './bytes.ts';
import { isValidKeyName, KEY_NAME_RULE } from './note.ts';
import { STREAM_HEAD_LABEL } from './stream-head.ts';

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
const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$/;

const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysInMonth = (year: number, month: number): number => (month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);

/**
 * Why `time` is not a real calendar instant in RFC 3339 UTC form (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`), or undefined
 * when it is one. The shape alone is not enough: Date.parse rolls `2026-02-31` over to 3 March, so a checkpoint
 * would name a day that does not exist and be read as another. A leap second (`:60`, which RFC 3339 §5.6 allows)
 * is refused: the signer writes `Date#toISOString`, whose clock has no leap seconds, so no checkpoint it signs holds one.
 */
export const calendarInstantProblem = (time: string): string | undefined => {
  const match = ISO_UTC.exec(time);
  if (match === null) return 'not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z';
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12) return `month ${match[2]} is not 01-12`;
  if (day < 1 || day > daysInMonth(year, month)) return `day ${match[3]} is not a day of ${match[1]}-${match[2]}`;
  if (hour > 23) return `hour ${match[4]} is not 00-23`;
  if (minute > 59) return `minute ${match[5]} is not 00-59`;
  if (second > 59) return `second ${match[6]} is not 00-59 (no leap second: the signer's clock has none)`;
  return undefined;
};
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

export const formatCheckpointText = (checkpoint: Checkpoint): string => {
  if (!isValidKeyName(checkpoint.origin)) throw new Error(`origin: ${KEY_NAME_RULE}`);
  if (!Number.isSafeInteger(checkpoint.treeSize) || checkpoint.treeSize < 0) throw new Error('treeSize: invalid');
  if (checkpoint.rootHash.length !== HASH_SIZE) throw new Error('rootHash: expected 32 bytes');
  const timeProblem = calendarInstantProblem(checkpoint.time);
  if (timeProblem !== undefined) throw new Error(`time: expected an RFC 3339 UTC instant: ${timeProblem}`);
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
  // The log's other signed note, given where a checkpoint goes: said so, not as its second line's tree size (review 372).
  if (origin === STREAM_HEAD_LABEL) {
    return { ok: false, reason: `this is a stream head note (${STREAM_HEAD_LABEL}, a bundle's \`streamHead\`), not a checkpoint: give the checkpoint note (a bundle's \`checkpoint\`)` };
  }
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
  const timeProblem = calendarInstantProblem(time);
  if (timeProblem !== undefined) return { ok: false, reason: `time is not an RFC 3339 UTC instant: ${timeProblem}` };
  return { ok: true, checkpoint: { origin, treeSize, rootHash, time } };
};
