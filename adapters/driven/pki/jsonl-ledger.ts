import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { z } from 'zod';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
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
 * An append-only ledger of JSON lines under `<data>/pki/`, a header line first (published-revocations.ts, issued
 * certificates): each append is written and fsynced before it returns, the file made 0600 in a private folder. A line
 * cut short by a crash during an append (no newline) is dropped at the next load (what it recorded was never acted
 * on); a write that failed part-way is cut before the next append. `load` reads the file a chunk at a time, line by
 * line, with no bound but the records it holds.
 */
export const jsonlLedger = <R>(dir: string, path: string, format: JsonlLedgerFormat<R>) => {
  /** The file's length after the last load, append or replace: what is past it is a failed append's fragment. */
  let whole: number | undefined;

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
      whole = bytes.length;
    },
    /** Gives each complete line to `take` (the header as line 1); false when there is no file. Cuts a torn tail. */
    load(take: (line: Buffer, n: number) => void): boolean {
      if (!existsSync(path)) return false;
      const fd = openSync(path, 'r+');
      try {
        let n = 0;
        const line = (bytes: Buffer): void => {
          n++;
          if (bytes.length > format.maxLineBytes) throw format.refused(`line ${n} is longer than ${format.maxLineBytes} bytes`);
          take(bytes, n);
        };
        const size = fstatSync(fd).size;
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
        if (n === 0) throw format.refused('its first line is not the header');
        // The torn tail goes now, so that the next append starts on a line of its own.
        if (complete < size) {
          ftruncateSync(fd, complete);
          fsyncSync(fd);
        }
        whole = complete;
      } finally {
        closeSync(fd);
      }
      return true;
    },
    /** Adds `records`, on disk (synced) when this returns; a failure throws and leaves none of them kept. */
    append(records: readonly R[]): void {
      if (records.length === 0) return;
      preparePrivateDir(dir);
      if (!existsSync(path)) {
        writeFileAtomic(path, format.header);
        whole = Buffer.byteLength(format.header, 'utf8');
      }
      const bytes = bytesOf(records);
      const fd = openSync(path, 'a+', 0o600);
      try {
        // Not loaded by this process: a torn tail an earlier one left (a crash mid-append) is cut first, as a load would.
        whole ??= endOfLastLine(fd);
        // A write that failed part-way (a full disk) left a fragment without a newline: cut before appending after it.
        if (whole !== undefined && fstatSync(fd).size !== whole) ftruncateSync(fd, whole);
        for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        fsyncSync(fd);
        whole = (whole ?? fstatSync(fd).size - bytes.length) + bytes.length;
      } catch (error) {
        if (whole !== undefined) {
          try {
            ftruncateSync(fd, whole);
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
