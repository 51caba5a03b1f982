import { parseCheckpointText, readSignedNote } from '../../domain/transparency/index.ts';
import { statSync } from 'node:fs';
import { BUNDLE_MIB, bundleBound, bundleMibFor, FILE_LIMITS, readJsonFile, readTextFile, readTrustedTextFile, type FileRead } from '../files.ts';
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
    ? { ok: false, kind: 'content', message: `${path} starts with a UTF-8 byte-order mark, which a signed note does not allow: save it without one` }
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

/** The size of the file at `path` when it is a regular one (what was refused as too large), else undefined (a FIFO). */
const sizeOf = (path: string): number | undefined => {
  try {
    const stat = statSync(path);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
};

/**
 * An evidence bundle (`verify FILE.json`), read once within `mib` MiB (bundleBound), its number tokens as
 * JSON.stringify writes them: the leaf hashes cover the parsed values (json-duplicate-names.ts). One over the bound is
 * no malformed bundle but one larger than the caller allowed (review 217: a genuine 77 MB export was refused as "larger
 * than 67108864 bytes"): the refusal names its size and the --max-bundle-mib that reads it, or that none does.
 */
export const readBundleFile = (path: string, mib: number): FileRead<unknown> => {
  const { maxBytes, limits } = bundleBound(mib);
  const read = readJsonFile(path, maxBytes, limits, { canonicalNumbers: true });
  if (!read.ok && read.kind === 'content' && read.rule === 'max_values') {
    // A dense bundle (many small values) is held to the values of its bound too: said with the option that raises it.
    // Told by the reader's rule, never by its words (review 451).
    // At the largest bound there is no larger one to give (review 459): the data folder is audited itself, as a
    // bundle too large in bytes for any bound is told below.
    if (mib >= BUNDLE_MIB.max) {
      return { ok: false, kind: 'content', message: `${read.message}, what --max-bundle-mib ${mib}, the largest, allows: no --max-bundle-mib reads it; audit the data folder itself with credence verify --data` };
    }
    const most = bundleBound(BUNDLE_MIB.max).limits.maxValues;
    return { ok: false, kind: 'content', message: `${read.message}, what --max-bundle-mib ${mib} allows: give a larger --max-bundle-mib (${BUNDLE_MIB.max} allows ${most})` };
  }
  if (read.ok || read.kind !== 'too_large') return read;
  // Only the refusal stats the file: the read stopped at the bound. A FIFO has no size, a file that shrank meanwhile
  // none past the bound: no option to name then.
  const size = sizeOf(path);
  const allowed = `more than the ${mib} MiB of a bundle credence verify reads${mib === BUNDLE_MIB.default ? ' by default' : ' as told'}`;
  if (size === undefined || size <= maxBytes) {
    return { ok: false, kind: 'too_large', message: `${path} holds ${allowed}: give --max-bundle-mib with a larger bound (at most ${BUNDLE_MIB.max}) to read it` };
  }
  const needed = bundleMibFor(size);
  if (needed === undefined) {
    return { ok: false, kind: 'too_large', message: `${path} is ${size} bytes, more than credence verify can read of a bundle (${BUNDLE_MIB.max} MiB, the longest text Node holds as one): audit the data folder itself with credence verify --data` };
  }
  return { ok: false, kind: 'too_large', message: `${path} is ${size} bytes, ${allowed}: give --max-bundle-mib ${needed} to read it (verifying takes some seven times that in memory)` };
};

/**
 * A checkpoint file of the caller's that does not parse (as a signed note, its text as a checkpoint) is malformed
 * input, exit 2 with the flag named, before any key is tried (review 159: "FAILED (malformed_checkpoint)", exit 1). One
 * that parses goes to its check, where a note signed by another key is a verification failure (1). Undefined then.
 */
export const unparsedCheckpoint = (flag: string, note: string, io: Io): number | undefined => {
  const read = readSignedNote(note);
  const parsed = read.ok ? parseCheckpointText(read.note.text) : undefined;
  if (parsed?.ok === true) return undefined;
  // Why it is no note, by the format's rule (review 217: a file saved with CRLF line endings was only "not well-formed").
  const why = read.ok ? parsed!.reason : `the checkpoint is not a well-formed signed note: ${read.rule}: ${read.message}`;
  io.err(printable(`error: ${flag}: ${why}`));
  return EXIT.usage;
};
