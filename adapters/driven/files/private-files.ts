import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { validationError } from '../../../domain/errors.ts';

/** A data folder: only its owner may list, enter or change it. */
export const DATA_DIR_MODE = 0o700;
/** A data file (a database, its -wal/-shm/-journal, a key): only its owner may read or write it. */
export const DATA_FILE_MODE = 0o600;

/** Whether a file's mode lets its group or others in at all: what no private file (key, PIN, token) may have. */
export const openToGroupOrOthers = (mode: number): boolean => (mode & 0o077) !== 0;

/** SQLite's companion files; SQLite creates them with the permissions of the main database file. */
const COMPANIONS = ['-wal', '-shm', '-journal'] as const;

// Windows has no POSIX permission bits: NTFS ACLs inherit from the folder, and chmod only toggles read-only.
const POSIX = process.platform !== 'win32';

/** A path the system will not make or enter as a folder (by its error code), as a `validation` error naming `field`. */
const unusableFolder = (dir: string, field: string, error: unknown): unknown => {
  const code = (error as NodeJS.ErrnoException).code;
  const issue = (message: string) => validationError([{ path: field, rule: 'usable_folder', message }], 'data folder');
  switch (code) {
    case 'EEXIST':
      return issue(`${dir} is a file, not a folder: choose another path`);
    case 'ENOTDIR':
      return issue(`${dir} cannot be a folder: a part of the path above it is a file, not a folder`);
    case 'EACCES':
    case 'EPERM':
      return issue(`${dir} cannot be made or entered: permission denied (${code}) on it or a folder above it; choose a path this user may write to`);
    default:
      return error;
  }
};

/**
 * The data folder (events, read models, key registry, transparency log, Secure Environment): created with mode
 * 0700 when missing; an existing folder that group or others may write to is refused, since anyone who can write
 * there can replace a database or a key file underneath us (a `validation` error naming the folder and the fix).
 * A path that cannot be a folder (a file, or under one) or that this user may not make or enter is a `validation`
 * error too (rule `usable_folder`), not the system's error. `field` is the setting the path came from (`data`).
 * Returns the first folder it made (the topmost of those missing), or undefined when `dir` existed.
 */
export const preparePrivateDir = (dir: string, field = 'data'): string | undefined => {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty path');
  let made: string | undefined;
  let stat: ReturnType<typeof statSync>;
  try {
    made = mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
    stat = statSync(dir);
  } catch (error) {
    throw unusableFolder(dir, field, error);
  }
  if (!stat.isDirectory()) {
    throw validationError([{ path: field, rule: 'directory', message: `${dir} is not a folder` }], 'data folder');
  }
  if (POSIX && (stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
    throw validationError(
      [{ path: field, rule: 'private', message: `${dir} is writable by group or others (mode ${mode}); run chmod 700 ${dir}` }],
      'data folder',
    );
  }
  return made;
};

/**
 * A database file that only its owner can read: created empty with mode 0600 before SQLite opens it (SQLite then
 * creates its -wal/-shm/-journal with the same mode), whatever the process umask; an existing file, or a companion,
 * left readable by others by an earlier version is tightened to 0600. An empty file is a valid empty database.
 */
export const preparePrivateDatabaseFile = (path: string): void => {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty path');
  if (!POSIX) return;
  try {
    const fd = openSync(path, 'wx', DATA_FILE_MODE);
    try {
      fchmodSync(fd, DATA_FILE_MODE); // open's mode went through the umask; the file gets exactly 0600
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  tightenPrivateDatabaseFile(path);
};

/**
 * An existing database file (and its companions) made private (0600) if an earlier copy or restore left it readable
 * by others; nothing is created. For a file that must not be made afresh when it is missing (a wrapping-key file).
 */
export const tightenPrivateDatabaseFile = (path: string): void => {
  if (!POSIX) return;
  for (const file of [path, ...COMPANIONS.map((suffix) => `${path}${suffix}`)]) tighten(file);
};

const tighten = (file: string): void => {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (openToGroupOrOthers(mode)) chmodSync(file, mode & DATA_FILE_MODE);
};

/**
 * Runs `create` (synchronous: it opens or creates data files) under the umask 077, so every file it creates, whoever's
 * code creates it (SQLite makes its files 0644 less the umask), is private; the umask is restored before returning.
 * The umask is per process: only the main thread may set it (a worker runs `create` as is; pre-create with
 * `preparePrivateDatabaseFile` for that case), and nothing else runs meanwhile since `create` does not await.
 */
export const withPrivateUmask = <T>(create: () => T): T => {
  if (!POSIX || !isMainThread) return create();
  const previous = process.umask(0o077);
  try {
    const result = create();
    if (result instanceof Promise) throw new TypeError('create must be synchronous: the umask would leak past an await');
    return result;
  } finally {
    process.umask(previous);
  }
};
