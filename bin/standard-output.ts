import { fstatSync, writeSync } from 'node:fs';
import { CannotWrite } from './write-failure.ts';

/** The CLI's stdout, watched: a write the system refuses is a CannotWrite the command meets, never a stack trace. */
export interface StandardOutput {
  /** Writes `text`; throws CannotWrite once a write has failed (a file's at once: it is written synchronously). */
  write(text: string): void;
  /**
   * Writes `text` and resolves once the system has all of it; rejects with CannotWrite where it did not. A reader gone
   * meanwhile (EPIPE) rejects it too, instead of ending the process: its caller has something to undo.
   */
  deliver(text: string): Promise<void>;
  /** Resolves once every write so far is done; rejects with the first failure. */
  settled(): Promise<void>;
  readonly failure: CannotWrite | undefined;
  /**
   * Aborted once the reader is gone (an EPIPE outside a delivery): a command that follows until stopped (`credence
   * events`) ends on it as on Ctrl-C, not at a write after the failed one, which a quiet log may never bring (review
   * 336). A reader gone after the last write went through is seen only at the next write: a pipe says nothing till then.
   */
  readonly readerGone: AbortSignal;
}

const NAME = 'standard output';

const refused = (error: unknown): CannotWrite => new CannotWrite(NAME, (error as NodeJS.ErrnoException).code ?? 'EIO');

/**
 * Whether Node writes this stdout as a file: a regular file, or a device that is no terminal (/dev/full). Node does it
 * in one write(2) per line and drops what a short write left (`ulimit -f` cut a `history --json` short with exit 0),
 * and says a failure only later, as an event.
 */
const writtenAsFile = (stream: NodeJS.WriteStream, fd: number): boolean => {
  if (stream.isTTY === true) return false;
  try {
    const stat = fstatSync(fd);
    return stat.isFile() || stat.isCharacterDevice();
  } catch {
    return false;
  }
};

/** Every byte of `bytes` to `fd`, a short write continued; the first failure thrown as CannotWrite. */
const writeWhole = (fd: number, bytes: Buffer): void => {
  try {
    for (let offset = 0; offset < bytes.length; ) {
      const written = writeSync(fd, bytes, offset, bytes.length - offset);
      // Never spins: a file that takes nothing and says no error is a failure too.
      if (written === 0) throw Object.assign(new Error('nothing written'), { code: 'EIO' });
      offset += written;
    }
  } catch (error) {
    throw refused(error);
  }
};

/**
 * `stream` (process.stdout, on `fd`) watched. A file is written here, synchronously and whole; a pipe or a terminal
 * through the stream, each write's outcome awaited by `settled`. A reader gone (EPIPE) outside a `deliver` is the
 * reader's choice, not an error (`credence history x | head`): nothing more is written, `settled` resolves, and the
 * command ends with its own code. Review 331: it ended the process at once with exit 0, before a refusal printed with
 * --json had set its exit 1, so a pipefail script read a refused command as done. `stillWriting` is called at each write
 * after that, when the command goes on (`credence events` follows until Ctrl-C): its output has nowhere to go.
 */
export const standardOutput = (stream: NodeJS.WriteStream, fd: number, stillWriting: () => void): StandardOutput => {
  let failure: CannotWrite | undefined;
  let readerGone = false;
  const gone = new AbortController();
  let pending = 0;
  let delivering = 0;
  const waiting = new Set<() => void>();
  const wakeAll = (): void => {
    for (const wake of [...waiting]) wake();
  };
  const fail = (error: unknown): void => {
    failure ??= refused(error);
    wakeAll();
  };
  // A failure of a write outside a delivery once the reader is gone (the stream destroyed by its EPIPE) is that too.
  const outcome = (error: NodeJS.ErrnoException, delivered: boolean): void => {
    if (!delivered && (error.code === 'EPIPE' || readerGone)) {
      readerGone = true;
      gone.abort();
      wakeAll();
    } else fail(error);
  };
  stream.on('error', (error: NodeJS.ErrnoException) => outcome(error, delivering > 0));
  const asFile = writtenAsFile(stream, fd);
  const write = (text: string, delivered = false): void => {
    if (failure !== undefined) throw failure;
    if (readerGone) {
      // A token delivered to nobody is a failure its caller undoes; any other output is dropped.
      if (delivered) fail(Object.assign(new Error('the reader is gone'), { code: 'EPIPE' }));
      if (failure !== undefined) throw failure;
      stillWriting();
      return;
    }
    if (asFile) {
      try {
        writeWhole(fd, Buffer.from(text, 'utf8'));
      } catch (error) {
        failure ??= error as CannotWrite;
        throw failure;
      }
      return;
    }
    pending++;
    stream.write(text, (error) => {
      pending--;
      if (error !== undefined && error !== null) outcome(error, delivered);
      else if (pending === 0) wakeAll();
    });
  };
  const settled = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (failure === undefined && pending > 0) return;
        waiting.delete(check);
        if (failure !== undefined) reject(failure);
        else resolve();
      };
      waiting.add(check);
      check();
    });
  return {
    write: (text) => write(text),
    deliver: async (text) => {
      delivering++;
      try {
        write(text, true);
        await settled();
      } finally {
        delivering--;
      }
    },
    settled,
    get failure() {
      return failure;
    },
    readerGone: gone.signal,
  };
};
