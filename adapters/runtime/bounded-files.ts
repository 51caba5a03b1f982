import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readNamedJsonText, type JsonTextRules } from '../../domain/json-duplicate-names.ts';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from '../../domain/json-limits.ts';
import { withTrustedFile } from '../driven/files/index.ts';
import { readWaitingForPipe, type TrustedFileRefusal } from '../driven/files/trusted-file.ts';

/**
 * Files read from configuration or a command's arguments are bounded in bytes while they are read, before anything
 * parses them, and JSON files in depth and size before any schema walks them (SER-001): an oversized or deeply
 * nested file is malformed input with a message naming the limit, never an exhausted heap or a stack overflow.
 * Shared by the CLI (bin/files.ts) and the service's configuration (the request-signing policy).
 */

/**
 * Which problem refused a file, for a caller to name its rule by it and never by the message, which names the path (a
 * path may hold any text). `unreadable` (with its errno `code`) and `trusted_file`: as withTrustedFile says
 * (trusted-file.ts). `too_large`: the file holds more than the bound (the rest was not read). `unwritten`: a pipe
 * nothing wrote to and closed within the wait (readTrustedTextFileOrPipe). `invalid_utf8`: its bytes are not UTF-8.
 * `content`: its text is not what the reader takes (not JSON, past the JSON limits, a name twice in an object, a
 * byte-order mark where none is allowed), with the `rule` of the JSON reader's issue when one refused it (`max_values`:
 * more values than its limits allow, the refusal `credence verify` advises a larger --max-bundle-mib for; review 451).
 */
export type FileRefusal =
  | TrustedFileRefusal
  | { readonly kind: 'too_large' }
  | { readonly kind: 'unwritten' }
  | { readonly kind: 'invalid_utf8' }
  | { readonly kind: 'content'; readonly rule?: string };

export type FileRead<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false; readonly message: string } & FileRefusal);

const CHUNK = 64 * 1024;

/**
 * Reads at most `maxBytes` from `fd` (a FIFO or a growing file included: the bound is on what is read, not on a stat).
 * A regular file its fstat already shows larger is refused before any of it is read (review 296: a 70 MB bundle was
 * read to its 64 MiB bound, some 230 MB of memory, for a refusal its size alone decides).
 */
const readBoundedFd = (fd: number, maxBytes: number): Buffer | undefined => {
  const stat = fstatSync(fd);
  if (stat.isFile() && stat.size > maxBytes) return undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
    const read = readSync(fd, chunk, 0, chunk.length, null);
    if (read === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, read));
    total += read;
    if (total > maxBytes) return undefined;
  }
};

const readBounded = (path: string, maxBytes: number): Buffer | undefined => {
  const fd = openSync(path, 'r');
  try {
    return readBoundedFd(fd, maxBytes);
  } finally {
    closeSync(fd);
  }
};

const bounded = (path: string, maxBytes: number, bytes: Buffer | undefined): FileRead<Buffer> =>
  bytes === undefined ? { ok: false, kind: 'too_large', message: `${path} is larger than ${maxBytes} bytes` } : { ok: true, value: bytes };

/** A file of at most `maxBytes`, as bytes; the message names the path and the limit or the reason. */
export const readBytesFile = (path: string, maxBytes: number): FileRead<Buffer> => {
  let bytes: Buffer | undefined;
  try {
    bytes = readBounded(path, maxBytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, kind: 'unreadable', code, message: `cannot read ${path}: ${code ?? 'unreadable'}` };
  }
  return bounded(path, maxBytes, bytes);
};

/**
 * A file whose content decides what is trusted (a pinned log key, a request-signing policy), of at most `maxBytes`:
 * refused, naming the rule, when another account than this one and root may write it or put another file in its
 * place (trusted-file.ts), and read through the descriptor that was checked, never opened again by name.
 */
export const readTrustedBytesFile = (path: string, maxBytes: number): FileRead<Buffer> => {
  const read = withTrustedFile(path, (fd) => readBoundedFd(fd, maxBytes));
  return read.ok ? bounded(path, maxBytes, read.value) : read;
};

/**
 * Decodes strictly: a byte sequence that is not UTF-8 is refused, never replaced by U+FFFD as Buffer.toString does
 * (found in review: a bundle with invalid bytes verified, while another tool reads those bytes otherwise). JSON
 * exchanged between systems is UTF-8 (RFC 8259 8.1, I-JSON RFC 7493 2.1). A byte-order mark is kept in the text,
 * as before, for the parser to judge.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const decoded = (path: string, bytes: FileRead<Buffer>): FileRead<string> => {
  if (!bytes.ok) return bytes;
  try {
    return { ok: true, value: utf8.decode(bytes.value) };
  } catch {
    return { ok: false, kind: 'invalid_utf8', message: `${path}: invalid_utf8: the file is not valid UTF-8 text (RFC 8259 8.1)` };
  }
};

/** A UTF-8 text file of at most `maxBytes`; the message names the path and the limit or the reason. */
export const readTextFile = (path: string, maxBytes: number): FileRead<string> => decoded(path, readBytesFile(path, maxBytes));

/** A UTF-8 text file that decides what is trusted, checked and read as `readTrustedBytesFile` says. */
export const readTrustedTextFile = (path: string, maxBytes: number): FileRead<string> => decoded(path, readTrustedBytesFile(path, maxBytes));

/**
 * `readTrustedTextFile` that also takes a pipe (a named FIFO, or the shell's `<(envsubst …)`), held to the same rules
 * (it and the folders it is named in: who may write it), and waited for at most `pipeWaitMs`: one nothing writes to
 * and closes is refused `unwritten`, never a start held for good (as a token file is read: secret-option-file.ts).
 */
export const readTrustedTextFileOrPipe = (path: string, maxBytes: number, pipeWaitMs: number): FileRead<string> => {
  const read = withTrustedFile(path, (fd) => (tooLargeAtOnce(fd, maxBytes) ? null : readWaitingForPipe(fd, maxBytes, pipeWaitMs)), { pipe: true });
  if (!read.ok) return read;
  if (read.value === undefined) {
    return { ok: false, kind: 'unwritten', message: `${path} is a pipe nothing wrote to and closed within ${pipeWaitMs / 1000} s` };
  }
  return decoded(path, bounded(path, maxBytes, read.value === null || read.value.length > maxBytes ? undefined : read.value));
};

/** A regular file its fstat already shows larger than `maxBytes`: refused before any of it is read (review 296). */
const tooLargeAtOnce = (fd: number, maxBytes: number): boolean => {
  const stat = fstatSync(fd);
  return stat.isFile() && stat.size > maxBytes;
};

/** The JSON reader's refusal (its text: not JSON, past the limits, a name twice) as a file's `content` problem. */
const asContent = (read: { ok: true; value: unknown } | { ok: false; message: string; rule?: string }): FileRead<unknown> =>
  read.ok ? read : { ok: false, kind: 'content', ...(read.rule !== undefined ? { rule: read.rule } : {}), message: read.message };

/**
 * A JSON file of at most `maxBytes`, within `limits` (depth, values), each name once per object, and the text
 * `rules` (json-duplicate-names.ts: canonical numbers for an evidence bundle); no schema yet.
 */
export const readJsonFile = (path: string, maxBytes: number, limits: JsonLimits = DEFAULT_JSON_LIMITS, rules: JsonTextRules = {}): FileRead<unknown> => {
  const text = readTextFile(path, maxBytes);
  if (!text.ok) return text;
  return asContent(readNamedJsonText(path, text.value, limits, rules));
};

/** A JSON file that decides what is trusted, checked and read as `readTrustedBytesFile` says, then as `readJsonFile`. */
export const readTrustedJsonFile = (path: string, maxBytes: number, limits: JsonLimits = DEFAULT_JSON_LIMITS): FileRead<unknown> => {
  const text = readTrustedTextFile(path, maxBytes);
  if (!text.ok) return text;
  return asContent(readNamedJsonText(path, text.value, limits, {}));
};
