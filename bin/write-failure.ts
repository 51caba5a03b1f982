/**
 * A write the system refused: a full disk, a file size limit (`ulimit -f`), a quota, a device error, a read-only file
 * system. Not the operator's mistake in what they typed (bad usage, exit 2) but a failure (exit 1, README's exit
 * codes), said in one line naming the file or folder: `error: cannot write b3.json (EFBIG)`.
 */
export class CannotWrite extends Error {
  /** The errno code (`ENOSPC`) or SQLite's (`SQLITE_IOERR_WRITE`). */
  readonly code: string;
  constructor(what: string, code: string, detail?: string) {
    super(`cannot write ${what} (${code}${detail !== undefined ? `: ${detail}` : ''})`);
    this.name = 'CannotWrite';
    this.code = code;
  }
}

/** The errno codes of a write the system refused, whatever was asked of it. */
const REFUSED_WRITES = new Set(['ENOSPC', 'EFBIG', 'EDQUOT', 'EIO', 'EROFS']);

/**
 * The code of `error` when it is a write the system refused: one of REFUSED_WRITES, or SQLite's for the same
 * (`SQLITE_FULL` for a full disk, `SQLITE_IOERR_*` for a file size limit or a device error; SQLite names no file).
 */
export const refusedWriteOf = (error: unknown): { code: string; sqlite?: string } | undefined => {
  if (!(error instanceof Error) || error instanceof CannotWrite) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code !== 'string') return undefined;
  if (REFUSED_WRITES.has(code)) return { code };
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) return { code, sqlite: error.message };
  return undefined;
};

/**
 * `run`, with a write the system refused said as CannotWrite naming `what` (a data folder: the one file SQLite or a
 * deeper layer wrote is not known here). Every other error as it was.
 */
export const namingRefusedWrites = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    const refused = refusedWriteOf(error);
    if (refused === undefined) throw error;
    throw new CannotWrite(what, refused.code, refused.sqlite);
  }
};
