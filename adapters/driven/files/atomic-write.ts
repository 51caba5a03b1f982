import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's permission bits, set on the temp file before any byte is written. Default 0600. */
  readonly mode?: number;
  /**
   * Never replace an existing file: fail with EEXIST as `open(path, 'wx')` does. For files that must be created
   * once (a key: a second one would fork an identity), where two processes may race to create them.
   */
  readonly exclusive?: boolean;
  /**
   * `mode` narrowed by the process umask, as for any file a person makes: for a file they asked for outside the data
   * folder (an export), where their umask 077 says who else may read it. Otherwise the file gets exactly `mode`.
   */
  readonly underUmask?: boolean;
}

/** Random bytes in a temp file's name, written as 12 hex digits. */
export const TEMP_RANDOM_BYTES = 6;

/**
 * `.<name>.<pid>.<random>.tmp`: the name of writeFileAtomic's temp file beside `<name>`, and the only names the sweep
 * of an opened data folder removes (atomic-write-strays.ts). One pattern for both, so that the sweep never takes a
 * file this writer did not make.
 */
export const ATOMIC_WRITE_TEMP = new RegExp(`^\\.(.+)\\.([1-9][0-9]*)\\.([0-9a-f]{${TEMP_RANDOM_BYTES * 2}})\\.tmp$`);

/** The file a name of ATOMIC_WRITE_TEMP was the temp of, and the process that wrote it; undefined for any other name. */
export const atomicWriteTempOf = (fileName: string): { readonly target: string; readonly pid: number } | undefined => {
  const match = ATOMIC_WRITE_TEMP.exec(fileName);
  return match === null ? undefined : { target: match[1]!, pid: Number(match[2]) };
};

/** The name of the temp file process `pid` writes `<name>` through, `random` its TEMP_RANDOM_BYTES bytes. */
export const atomicWriteTempName = (name: string, pid: number, random: Uint8Array): string =>
  `.${name}.${pid}.${Buffer.from(random.buffer, random.byteOffset, random.byteLength).toString('hex')}.tmp`;

/** The temp file's path: hidden, beside the target (same filesystem, so the rename or link is atomic), unguessable. */
const tempPathFor = (path: string): string => join(dirname(path), atomicWriteTempName(basename(path), process.pid, randomBytes(TEMP_RANDOM_BYTES)));

/** Makes the folder entry (a rename or link) durable: without this a power loss can undo it after we returned. */
export const fsyncFolder = (folder: string): void => {
  // Windows cannot open a folder as a file, and NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

const closeQuietly = (fd: number): void => {
  try {
    closeSync(fd);
  } catch {
    // the write already failed; that error is the one to report
  }
};

const removeQuietly = (path: string): void => {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or the folder became unwritable: nothing more to clean up here
  }
};

/**
 * Writes a whole single-file state (a key, a key handle, a KEK, a new database with its schema: private-sqlite.ts)
 * so that a crash at any point leaves either the previous state (no file, or the old one) or the complete new file,
 * never an empty or half-written one:
 * 1. a temp file in the same folder, created with O_EXCL and `mode` (0600 by default), written and fsynced;
 * 2. renamed over `path`; with `exclusive`, hard-linked to `path` instead, which fails with EEXIST rather than
 *    replace an existing file, then the temp name is removed;
 * 3. the folder fsynced, so the new name survives a power loss.
 * On an error the temp file is removed and the error rethrown (an existing target is left untouched). A kill
 * between 1 and 3 can leave a stray `.<name>.<pid>.<random>.tmp` (mode `mode`, ATOMIC_WRITE_TEMP); it is never
 * read back, and a data folder's (a KEK's kept outside it too) and a device folder's are removed when the folder is
 * next opened under its lock (atomic-write-strays.ts).
 * Until then it holds what was written: a KEK's is a KEK (with `exclusive`, killed between link and unlink, a
 * second name of the live one).
 * `exclusive` needs a filesystem with hard links (every local POSIX one); elsewhere it fails rather than risk
 * replacing the file.
 */
export const writeFileAtomic = (path: string, contents: string | Uint8Array, options: AtomicWriteOptions = {}): void => {
  const ours = typeof contents === 'string';
  const bytes = ours ? Buffer.from(contents, 'utf8') : contents;
  try {
    writeThroughTemp(path, options, (fd) => writeAll(fd, bytes));
  } finally {
    if (ours) bytes.fill(0); // our copy of what may be a key; the caller wipes its own bytes
  }
};

/** How many bytes writeFileAtomicFrom gathers before it writes them: the pieces are many and mostly small. */
const STAGED_BYTES = 1024 * 1024;

/**
 * writeFileAtomic of the pieces `pieces` yields, in order, as one file: with the same guarantees (temp name, O_EXCL,
 * `mode`, fsync, rename or link, folder fsync), for a file too large to hold as one string or one Buffer (a replay
 * checkpoint of millions of entities: V8's longest string is 512 MiB). Pieces are gathered into writes of about
 * 1 MiB; one larger is written as it is. A string piece is written as UTF-8. The copies it makes are wiped, as
 * writeFileAtomic wipes its own; a piece given as bytes is the caller's.
 */
export const writeFileAtomicFrom = (path: string, pieces: Iterable<string | Uint8Array>, options: AtomicWriteOptions = {}): void => {
  const staged = Buffer.alloc(STAGED_BYTES);
  try {
    writeThroughTemp(path, options, (fd) => {
      let at = 0;
      const flush = (): void => {
        writeAll(fd, staged.subarray(0, at));
        at = 0;
      };
      for (const piece of pieces) {
        if (typeof piece === 'string') {
          // Encoded straight into the staging buffer when it fits (at most 3 bytes per UTF-16 unit).
          if (piece.length * 3 <= STAGED_BYTES - at) {
            at += staged.write(piece, at, 'utf8');
            continue;
          }
          if (at > 0) flush();
          if (piece.length * 3 <= STAGED_BYTES) {
            at += staged.write(piece, at, 'utf8');
            continue;
          }
          const bytes = Buffer.from(piece, 'utf8');
          try {
            writeAll(fd, bytes);
          } finally {
            bytes.fill(0);
          }
          continue;
        }
        if (piece.length <= STAGED_BYTES - at) {
          staged.set(piece, at);
          at += piece.length;
          continue;
        }
        if (at > 0) flush();
        if (piece.length <= STAGED_BYTES) {
          staged.set(piece, 0);
          at = piece.length;
        } else {
          writeAll(fd, piece);
        }
      }
      if (at > 0) flush();
    });
  } finally {
    staged.fill(0);
  }
};

/** Every byte of `bytes` written at the descriptor's offset (a write may take fewer than it is given). */
const writeAll = (fd: number, bytes: Uint8Array): void => {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
};

/** The steps writeFileAtomic documents, `write` filling the temp file through its descriptor. */
const writeThroughTemp = (path: string, options: AtomicWriteOptions, write: (fd: number) => void): void => {
  const mode = options.mode ?? 0o600;
  const temp = tempPathFor(path);
  // 'wx' is O_CREAT | O_EXCL: never follows or reuses a file someone placed at the temp name.
  let fd: number | undefined = openSync(temp, 'wx', mode);
  try {
    if (options.underUmask !== true) fchmodSync(fd, mode); // open's mode went through the umask; the file gets exactly `mode`
    write(fd);
    fsyncSync(fd);
    const written = fd;
    fd = undefined;
    closeSync(written);
    if (options.exclusive) {
      linkSync(temp, path);
    } else {
      renameSync(temp, path);
    }
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    removeQuietly(temp);
    throw error;
  }
  // Linked: `path` is complete and in place; the temp name is only a second name for it now.
  if (options.exclusive) removeQuietly(temp);
  fsyncFolder(dirname(path));
};
