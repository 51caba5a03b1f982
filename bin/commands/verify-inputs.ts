import { parseCheckpointText, parseSignedNote } from '../../domain/transparency/index.ts';
import { FILE_LIMITS, readTextFile, readTrustedTextFile, type FileRead } from '../files.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT } from '../program.ts';

/**
 * The files the caller gives `credence verify` (notes, proofs, events, bundles), read so that what is wrong with one
 * is said: malformed input is exit 2 (README, "credence verify"), never a verification failure.
 */

/**
 * A note starting with U+FEFF: the decoder keeps it (a byte that no signature covers), and a signed note does not
 * allow it. Said as such (review 159), as `readNamedJsonText` says it of a JSON file.
 */
const withoutByteOrderMark = (path: string, read: FileRead<string>): FileRead<string> =>
  read.ok && read.value.startsWith('\uFEFF')
    ? { ok: false, message: `${path} starts with a UTF-8 byte-order mark, which a signed note does not allow: save it without one` }
    : read;

/** A note file (--checkpoint, --from, --to) as `readTextFile` reads it, one starting with a byte-order mark refused. */
export const readNoteFile = (path: string, maxBytes: number): FileRead<string> => withoutByteOrderMark(path, readTextFile(path, maxBytes));

/**
 * The checkpoint the auditor kept (`--checkpoint` with --data or a bundle, `--from` with --server): it sets the point a
 * later checkpoint must reach, so whoever may write it could swap in an older genuine one and hide a rollback (review
 * 190). Held to the rules of `--key` (trusted-file.ts), read through the descriptor checked. The notes of --event and
 * of --from/--to offline are evidence handed in, held to the key and to each other, and read as `readNoteFile`.
 */
export const readSavedCheckpointFile = (path: string): FileRead<string> => withoutByteOrderMark(path, readTrustedTextFile(path, FILE_LIMITS.note));

/**
 * A checkpoint file of the caller's that does not parse (as a signed note, its text as a checkpoint) is malformed
 * input, exit 2 with the flag named, before any key is tried (review 159: "FAILED (malformed_checkpoint)", exit 1). One
 * that parses goes to its check, where a note signed by another key is a verification failure (1). Undefined then.
 */
export const unparsedCheckpoint = (flag: string, note: string, io: Io): number | undefined => {
  const signed = parseSignedNote(note);
  const parsed = signed && parseCheckpointText(signed.text);
  if (parsed?.ok === true) return undefined;
  io.err(printable(`error: ${flag}: ${parsed === undefined ? 'the checkpoint is not a well-formed signed note' : parsed.reason}`));
  return EXIT.usage;
};
