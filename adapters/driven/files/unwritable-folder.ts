import { accessSync, constants } from 'node:fs';
import { basename, dirname } from 'node:path';
import { validationError } from '../../../domain/errors.ts';

/** Why this process may not make a file in `dir` (EACCES; EROFS on a read-only mount, even for root), if it may not. */
export const unwritableHere = (dir: string): string | undefined => {
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'EACCES';
  }
};

/** Whether this process may make a file in `dir`. */
export const writableHere = (dir: string): boolean => unwritableHere(dir) === undefined;

/**
 * Refuses a data folder this process may not write (another account's modes, a copy made read-only, a read-only
 * mount) before a command that must write in it starts: otherwise the first file it makes fails with the system's
 * bare EACCES, naming a temp file, or SQLite's "attempt to write a readonly database", naming none (review 81).
 * `writes` says what the command writes there; `remedy` what to do instead. A `validation` error on `data`, rule
 * `usable_folder`, as any data folder unusable here. A folder that does not exist is left to the caller.
 */
export const refuseUnwritableFolder = (dir: string, writes: string, remedy: string): void => {
  const code = unwritableHere(dir);
  if (code === undefined || code === 'ENOENT') return;
  const message = `${dir} is not writable by this account (${code}), and ${writes}; ${remedy}`;
  throw validationError([{ path: 'data', rule: 'usable_folder', message }], 'data folder');
};

/**
 * SQLite's refusal to write the database at `path` (SQLITE_READONLY and its extended codes: "attempt to write a
 * readonly database", naming no file) where this process may not write the file or its folder, as a `validation`
 * error naming the file and what to do (rule `usable_folder`); any other error as it was. Opening one of the data
 * folder's databases writes to it (its schema version checked in a write transaction, its WAL), even for a command that
 * then only reads, so a file with an -shm beside it in a folder this account may not write is refused here, not at
 * the first statement (wal-in-unwritable-folder.ts refuses the one without).
 */
export const asUnwritableDatabase = (path: string, error: unknown): unknown => {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_READONLY')) return error;
  const dir = dirname(path);
  const notWritable = unwritableHere(dir) !== undefined ? dir : unwritableHere(path) !== undefined ? path : undefined;
  if (notWritable === undefined) return error;
  const file = basename(path);
  const message =
    `${path} cannot be opened here: ${notWritable} is not writable by this account, while opening ${file} writes to it ` +
    `(its schema version, its WAL) (SQLite: ${code}); run the command as an account that may write ${dir}, or where it is writable, ` +
    'or, for a command that only reads, on a copy of the folder in storage this account may write (cp -a)';
  return validationError([{ path: 'data', rule: 'usable_folder', message }], 'data folder');
};
