import { write, writeSync } from 'node:fs';

/**
 * Where the service's JSON log lines go when no stream is given: stdout, written asynchronously, in order, and never
 * at the cost of the service. pino's default destination (sonic-boom 4) raised a failed write (a full disk, a file past
 * `ulimit -f`) as an uncaught error, and at exit its flushSync retried it every 100 ms for ever: the service answered
 * nothing and ignored SIGTERM (review 81). sonic-boom has no option against that: `retryEAGAIN` governs EAGAIN only, and
 * its flushSync retries every other error unconditionally. Here a failed write drops its lines, counted
 * (`credence_log_lines_dropped_total`), and stderr says so once, and once more, with the count, when writing works again.
 */

/** Writes `chunk` (or part of it, as write(2) may); `done` gets the bytes written or the error. */
export type WriteChunk = (chunk: Buffer, done: (error: NodeJS.ErrnoException | null, written: number) => void) => void;

export interface LogDestinationOptions {
  /** What the notices call it (`stdout`). */
  readonly name: string;
  readonly writeChunk: WriteChunk;
  /** At exit, for the lines still waiting: one attempt, no retry (absent: they are left). */
  readonly writeChunkSync?: (chunk: Buffer) => number;
  /** Where "lines are dropped" and "works again" are said, a line each; must not throw. */
  readonly notice: (line: string) => void;
  /** Past this many characters waiting (a reader slower than the log), a new line is dropped (default 8 MiB). */
  readonly maxWaitingChars?: number;
  /** A busy destination (EAGAIN, EBUSY) is tried again after this long (default 100 ms)... */
  readonly busyRetryMs?: number;
  /** ...this many times, then its lines are dropped (default 50): never a retry for ever. */
  readonly busyRetries?: number;
}

export interface LogDestination {
  /** pino's: one JSON line. Never throws, never blocks. */
  write(line: string): boolean;
  /** Calls `done` once every line given so far is written or dropped (pino's `logger.flush`). */
  flush(done?: () => void): void;
  /** Lines that were not written, since the start. */
  readonly dropped: number;
  /** At exit (no event loop left): the lines waiting behind the write under way, in one synchronous attempt. */
  writeWaitingNow(): void;
}

// The chunk size sonic-boom writes: a Docker log reader takes 16 KiB at a time.
const MAX_CHUNK_BYTES = 16 * 1024;
const NEWLINE = 0x0a;
/** How long the exit waits for a busy destination to take the last lines. */
const EXIT_WRITE_MS = 1_000;

const countNewlines = (bytes: Buffer): number => {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) count += 1;
  return count;
};

const describe = (error: NodeJS.ErrnoException): string => error.code ?? error.message;

export const createLogDestination = (options: LogDestinationOptions): LogDestination => {
  const maxWaitingChars = options.maxWaitingChars ?? 8 * 1024 * 1024;
  const busyRetryMs = options.busyRetryMs ?? 100;
  const busyRetries = options.busyRetries ?? 50;
  let waiting: string[] = [];
  let waitingChars = 0;
  // The chunk being written: `underWay` while a write of it is outstanding (not while a busy destination is waited for).
  let chunk: { readonly bytes: Buffer; readonly startsWithBreak: boolean; written: number; retries: number; underWay: boolean } | undefined;
  let dropped = 0;
  let droppedSinceFailure = 0;
  let failing = false;
  // A chunk cut short mid-line: the next one begins with a line break, so the cut line does not swallow a whole one.
  let midLine = false;
  let flushed: (() => void)[] = [];

  const drop = (lines: number, what: string): void => {
    dropped += lines;
    droppedSinceFailure += lines;
    if (failing) return;
    failing = true;
    options.notice(`warning: ${what}: log lines are dropped until it works again`);
  };
  const recovered = (): void => {
    if (!failing) return;
    failing = false;
    options.notice(`the log is written to ${options.name} again; ${droppedSinceFailure} log lines were dropped`);
    droppedSinceFailure = 0;
  };
  const settleFlushes = (): void => {
    const done = flushed;
    flushed = [];
    for (const callback of done) callback();
  };
  const takeChunk = (): Buffer => {
    let chars = 0;
    let count = 0;
    while (count < waiting.length && (count === 0 || chars + waiting[count]!.length <= MAX_CHUNK_BYTES)) chars += waiting[count++]!.length;
    waitingChars -= chars;
    return Buffer.from((midLine ? '\n' : '') + waiting.splice(0, count).join(''));
  };
  const next = (): void => {
    if (waiting.length === 0) {
      settleFlushes();
      return;
    }
    const startsWithBreak = midLine;
    chunk = { bytes: takeChunk(), startsWithBreak, written: 0, retries: 0, underWay: false };
    send();
  };
  /** Lines not written whole are dropped, those waiting with them: retrying a full disk only waits on it. */
  const fail = (current: NonNullable<typeof chunk>, what: string): void => {
    const unwritten = current.bytes.subarray(current.written);
    const lines = countNewlines(unwritten) - (current.startsWithBreak && current.written === 0 ? 1 : 0) + waiting.length;
    midLine = current.written > 0 && current.bytes[current.written - 1] !== NEWLINE;
    chunk = undefined;
    waiting = [];
    waitingChars = 0;
    drop(lines, what);
    settleFlushes();
  };
  const send = (): void => {
    const current = chunk!;
    current.underWay = true;
    options.writeChunk(current.bytes.subarray(current.written), (error, written) => {
      current.underWay = false;
      if (error === null && written > 0) {
        current.written += written;
        recovered();
        if (current.written < current.bytes.length) return send();
        midLine = false;
        chunk = undefined;
        return next();
      }
      // Nothing written without an error is a busy destination too.
      const busy = error === null || error.code === 'EAGAIN' || error.code === 'EBUSY';
      if (busy && current.retries < busyRetries) {
        current.retries += 1;
        // Kept referenced: at a graceful stop the process waits for the lines, for busyRetries tries at most.
        setTimeout(send, busyRetryMs);
        return;
      }
      fail(current, `writing the log to ${options.name} failed (${error === null ? 'nothing written' : describe(error)})`);
    });
  };

  return {
    write(line) {
      if (waitingChars + line.length > maxWaitingChars) {
        drop(1, `${options.name} takes the log slower than it comes (${maxWaitingChars} characters waiting)`);
        return true;
      }
      waiting.push(line);
      waitingChars += line.length;
      if (chunk === undefined) next();
      return true;
    },
    flush(done) {
      if (done === undefined) return;
      if (chunk === undefined && waiting.length === 0) queueMicrotask(done);
      else flushed.push(done);
    },
    get dropped() {
      return dropped;
    },
    writeWaitingNow() {
      if (options.writeChunkSync === undefined) return;
      // A write under way is left to finish (or not) on its own: written again here, its lines could appear twice.
      const rest = chunk !== undefined && !chunk.underWay ? chunk.bytes.subarray(chunk.written) : Buffer.alloc(0);
      const bytes = Buffer.concat([rest, Buffer.from(waiting.join(''))]);
      if (chunk?.underWay !== true) chunk = undefined;
      waiting = [];
      waitingChars = 0;
      // No event loop is left to wait with: a busy destination (a non-blocking pipe whose reader is behind) is tried
      // again until EXIT_WRITE_MS have passed; any other failure ends it at once. What is left is counted and said,
      // never lost in silence (review 86: a process.exit into a full pipe lost two thirds of its lines unsaid).
      const giveUpAt = Date.now() + EXIT_WRITE_MS;
      let written = 0;
      while (written < bytes.length) {
        let n: number;
        try {
          n = options.writeChunkSync(bytes.subarray(written));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN' && Date.now() < giveUpAt) continue;
          break;
        }
        if (n <= 0) break;
        written += n;
      }
      if (written < bytes.length) {
        const lost = countNewlines(bytes.subarray(written));
        dropped += lost;
        if (lost > 0) options.notice(`warning: ${lost} log lines were not written to ${options.name} at exit`);
      }
    },
  };
};

let stdout: LogDestination | undefined;

/** The process's one destination on stdout (the API's and the probes' loggers share it: one writer keeps the order). */
export const stdoutLogDestination = (): LogDestination => {
  if (stdout !== undefined) return stdout;
  const destination = createLogDestination({
    name: 'stdout',
    writeChunk: (chunk, done) => write(1, chunk, 0, chunk.length, null, (error, written) => done(error, written)),
    writeChunkSync: (chunk) => writeSync(1, chunk),
    notice: (line) => {
      // stderr may fail too (the same full disk): there is nowhere left to say it then.
      try {
        process.stderr.write(`${line}\n`);
      } catch {
        /* nothing */
      }
    },
  });
  // A process ended by process.exit or an uncaught error still writes the lines that led to it, once, if it can.
  process.once('exit', () => destination.writeWaitingNow());
  stdout = destination;
  return destination;
};

/** Lines the stdout destination has dropped since the process started (0 when it was never used). */
export const droppedLogLines = (): number => stdout?.dropped ?? 0;
