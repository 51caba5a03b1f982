import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { z } from 'zod';
import { atomicWriteTempName, TEMP_RANDOM_BYTES } from '../files/atomic-write.ts';
import { fsyncFolder, preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';

/** Read a chunk at a time at load. */
const READ_CHUNK_BYTES = 8 * 1024 * 1024;

/** Where the file's last complete line ends (its length when it ends with a newline): read from its tail. */
const endOfLastLine = (fd: number): number => {
  const size = fstatSync(fd).size;
  const tail = Buffer.allocUnsafe(Math.min(size, 64 * 1024));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - tail.length);
    const got = readSync(fd, tail, 0, end - start, start);
    const newline = tail.subarray(0, got).lastIndexOf(0x0a);
    if (newline !== -1) return start + newline + 1;
    end = start;
  }
  return 0;
};

const NEWLINE = Buffer.from('\n');

/**
 * How one kind of ledger file reads and writes its lines: `take` is given each complete line (its 1-based number, the
 * first being the header) and throws to refuse the file; `refused` words a refusal of the file.
 */
export interface JsonlLedgerFormat<R> {
  /** The header line, with its newline. */
  readonly header: string;
  /** One record's line, with its newline. */
  readonly lineOf: (record: R) => string;
  /** A line longer than this is no record (and is not held whole in memory). */
  readonly maxLineBytes: number;
  readonly refused: (why: string) => Error;
}

/**
 * Gives `take` each complete line of the first `size` bytes of `fd` (its 1-based number, the first being the header),
 * read a chunk at a time: never more than a chunk and one line held. Returns how many lines, and where the last
 * complete one ends (what is past it is a torn tail).
 */
const eachLine = (
  fd: number,
  size: number,
  format: Pick<JsonlLedgerFormat<unknown>, 'maxLineBytes' | 'refused'>,
  take: (line: Buffer, n: number) => void,
): { readonly lines: number; readonly complete: number } => {
  let n = 0;
  const line = (bytes: Buffer): void => {
    n++;
    if (bytes.length > format.maxLineBytes) throw format.refused(`line ${n} is longer than ${format.maxLineBytes} bytes`);
    take(bytes, n);
  };
  const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(size, 1)));
  let carried: Buffer = Buffer.alloc(0);
  /** Past maxLineBytes without a newline: not held; a newline later makes it a line too long, none a torn tail. */
  let overlong = false;
  let complete = 0;
  for (let read = 0; read < size; ) {
    const got = readSync(fd, chunk, 0, Math.min(chunk.length, size - read), read);
    if (got === 0) break;
    read += got;
    if (overlong) {
      if (chunk.subarray(0, got).indexOf(0x0a) !== -1) throw format.refused(`line ${n + 1} is longer than ${format.maxLineBytes} bytes`);
      continue;
    }
    const bytes = carried.length === 0 ? chunk.subarray(0, got) : Buffer.concat([carried, chunk.subarray(0, got)]);
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; start = end + 1, end = bytes.indexOf(0x0a, start)) line(bytes.subarray(start, end));
    overlong = bytes.length - start > format.maxLineBytes;
    carried = overlong ? Buffer.alloc(0) : Buffer.from(bytes.subarray(start));
    complete = read - (bytes.length - start);
  }
  return { lines: n, complete };
};

/**
 * An append-only ledger of JSON lines under `<data>/pki/`, a header line first (published-revocations.ts, issued
 * certificates): each append is written and fsynced before it returns, the file made 0600 in a private folder. A line
 * cut short by a crash during an append (no newline) is dropped at the next load (what it recorded was never acted
 * on); a write that failed part-way is cut before the next append. `load` reads the file a chunk at a time, line by
 * line, with no bound but the records it holds; `compact` rewrites it without the lines no longer needed.
 */
export const jsonlLedger = <R>(dir: string, path: string, format: JsonlLedgerFormat<R>) => {
  /**
   * The file's length after the last load, append, replace or compaction, and which file it was (its inode): what is
   * past it is a failed append's fragment. A file replaced since by another instance (the start's reader compacting
   * the issued certificates while this one writes them) is measured again rather than cut at a length not its own.
   */
  let whole: { readonly length: number; readonly ino: number } | undefined;

  /** The lines of `records`, joined a few thousand at a time: one string of them all could pass V8's longest (512 MiB). */
  const bytesOf = (records: Iterable<R>, first = ''): Buffer => {
    const chunks: Buffer[] = [Buffer.from(first, 'utf8')];
    let lines: string[] = [];
    for (const r of records) {
      lines.push(format.lineOf(r));
      if (lines.length === 4096) {
        chunks.push(Buffer.from(lines.join(''), 'utf8'));
        lines = [];
      }
    }
    chunks.push(Buffer.from(lines.join(''), 'utf8'));
    return Buffer.concat(chunks);
  };

  return {
    path,
    /** Replaces the file with the header and `records`, atomically. */
    replace(records: Iterable<R>): void {
      preparePrivateDir(dir);
      const bytes = bytesOf(records, format.header);
      writeFileAtomic(path, bytes);
      whole = { length: bytes.length, ino: statSync(path).ino };
    },
    /** Gives each complete line to `take` (the header as line 1); false when there is no file. Cuts a torn tail. */
    load(take: (line: Buffer, n: number) => void): boolean {
      if (!existsSync(path)) return false;
      const fd = openSync(path, 'r+');
      try {
        const size = fstatSync(fd).size;
        const { lines, complete } = eachLine(fd, size, format, take);
        if (lines === 0) throw format.refused('its first line is not the header');
        // The torn tail goes now, so that the next append starts on a line of its own.
        if (complete < size) {
          ftruncateSync(fd, complete);
          fsyncSync(fd);
        }
        whole = { length: complete, ino: fstatSync(fd).ino };
      } finally {
        closeSync(fd);
      }
      return true;
    },
    /**
     * Replaces the file, as loaded last, with its header and the lines `keep` says true of (given each line after the
     * header and its number), streamed into a new file (mode 0600) that is fsynced, renamed over it, and the folder
     * fsynced: a crash at any point leaves the old file or the new one whole (and at worst a stray temp file, named
     * as writeFileAtomic's are, that the next opening of the data folder removes). Only after a load by this instance,
     * of the file as it still is; `keep` throwing leaves the file as it was. Returns the lines dropped.
     */
    compact(keep: (line: Buffer, n: number) => boolean): number {
      if (whole === undefined) throw new Error('compact: only after a load');
      const loaded = whole;
      const temp = join(dir, atomicWriteTempName(basename(path), process.pid, randomBytes(TEMP_RANDOM_BYTES)));
      const from = openSync(path, 'r');
      let to: number | undefined;
      let dropped = 0;
      try {
        // Another writer (none is expected: the data folder's lock) would have moved it on: left as it is.
        const current = fstatSync(from);
        if (current.ino !== loaded.ino || current.size !== loaded.length) throw new Error(`compact: ${path} changed since it was loaded`);
        to = openSync(temp, 'wx', 0o600);
        fchmodSync(to, 0o600);
        const out = to;
        const pending: Buffer[] = [];
        let pendingBytes = 0;
        const flush = (): void => {
          const bytes = Buffer.concat(pending);
          for (let offset = 0; offset < bytes.length; ) offset += writeSync(out, bytes, offset, bytes.length - offset);
          pending.length = 0;
          pendingBytes = 0;
        };
        eachLine(from, loaded.length, format, (line, n) => {
          if (n !== 1 && !keep(line, n)) {
            dropped++;
            return;
          }
          // A copy: `line` is a view of the read buffer, which the next chunk overwrites.
          pending.push(Buffer.from(line), NEWLINE);
          pendingBytes += line.length + 1;
          if (pendingBytes >= READ_CHUNK_BYTES) flush();
        });
        flush();
        fsyncSync(out);
        closeSync(out);
        to = undefined;
        renameSync(temp, path);
      } catch (error) {
        try {
          if (to !== undefined) closeSync(to);
          rmSync(temp, { force: true });
        } catch {
          // left as a stray temp, removed when the data folder is next opened; the first error is the one to report
        }
        throw error;
      } finally {
        closeSync(from);
      }
      fsyncFolder(dir);
      const written = statSync(path);
      whole = { length: written.size, ino: written.ino };
      return dropped;
    },
    /** Adds `records`, on disk (synced) when this returns; a failure throws and leaves none of them kept. */
    append(records: readonly R[]): void {
      if (records.length === 0) return;
      preparePrivateDir(dir);
      if (!existsSync(path)) {
        writeFileAtomic(path, format.header);
        whole = { length: Buffer.byteLength(format.header, 'utf8'), ino: statSync(path).ino };
      }
      const bytes = bytesOf(records);
      const fd = openSync(path, 'a+', 0o600);
      try {
        const ino = fstatSync(fd).ino;
        // Not loaded by this instance, or replaced since: a torn tail an earlier run left (a crash mid-append) is cut
        // first, as a load would.
        if (whole?.ino !== ino) whole = { length: endOfLastLine(fd), ino };
        // A write that failed part-way (a full disk) left a fragment without a newline: cut before appending after it.
        if (fstatSync(fd).size !== whole.length) ftruncateSync(fd, whole.length);
        for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        fsyncSync(fd);
        whole = { length: whole.length + bytes.length, ino };
      } catch (error) {
        if (whole !== undefined) {
          try {
            ftruncateSync(fd, whole.length);
          } catch {
            // cut at the next append, or dropped as a torn tail at the next load
          }
        }
        throw error;
      } finally {
        closeSync(fd);
      }
    },
  };
};

/**
 * The lines of one load of a CA's ledger as JSON: the first held to its header (a version this build reads, named in
 * `kind`'s refusal when newer, and this CA) and returned as its version; each after it returned parsed, with the
 * version its header named (its records are read under that version's layout). A line that is no JSON refuses the file.
 */
export const headedLedgerLines = (o: {
  readonly path: string;
  readonly caId: string;
  readonly kind: string;
  readonly newestVersion: number;
  readonly header: z.ZodType<{ readonly version: number; readonly caId: string }>;
  readonly refused: (why: string) => Error;
}): ((line: Buffer, n: number) => { readonly header: true; readonly version: number } | { readonly header: false; readonly parsed: unknown; readonly version: number }) => {
  let version: number | undefined;
  return (line, n) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString('utf8'));
    } catch {
      throw o.refused(`line ${n} is not JSON`);
    }
    if (n === 1) {
      // Before the header's schema, and before any line after it is read as a record of this version's layout.
      refuseNewerFileVersion(parsed, o.path, o.kind, o.newestVersion);
      const head = o.header.safeParse(parsed);
      if (!head.success) throw o.refused('its first line is not the header');
      if (head.data.caId !== o.caId) throw o.refused(`it names CA ${head.data.caId}`);
      version = head.data.version;
      return { header: true, version };
    }
    if (version === undefined) throw o.refused('its first line is not the header');
    return { header: false, parsed, version };
  };
};
