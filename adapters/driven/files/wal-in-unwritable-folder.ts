import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { validationError } from '../../../domain/errors.ts';
import { writableHere } from './unwritable-folder.ts';

/** The header bytes that say a SQLite file is in WAL mode: its write and read format versions (offsets 18 and 19), 2. */
const HEADER_BYTES = 20;
const WAL_FORMAT = 2;

const isWalFile = (path: string): boolean => {
  const header = Buffer.alloc(HEADER_BYTES);
  let read: number;
  try {
    const fd = openSync(path, 'r');
    try {
      read = readSync(fd, header, 0, HEADER_BYTES, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not readable here: the opening names that itself.
    return false;
  }
  return read === HEADER_BYTES && (header[18] === WAL_FORMAT || header[19] === WAL_FORMAT);
};

/**
 * Refuses the SQLite file at `path` when SQLite cannot read it here: a WAL file without its -shm (a data folder its
 * service left cleanly has none) in a folder this process may not write (a read-only mount, a copy an auditor made
 * read-only, another account's modes). SQLite reads a WAL file only through its WAL index, the -shm beside it, and
 * makes it at the first read, on a read-only connection too; where it cannot, every statement fails with
 * SQLITE_READONLY_DIRECTORY, "attempt to write a readonly database", which names no file (review 81). SQLite's
 * `immutable` URI, which reads without the index, is not offered: better-sqlite3 is built without URI filenames.
 * A -shm already there (a running or killed service's) is read as it is, and a rollback-journal file needs none.
 * The refusal is a `validation` error on `data`, rule `usable_folder`, as any data folder unusable here.
 */
export const refuseWalInUnwritableFolder = (path: string): void => {
  if (existsSync(`${path}-shm`) || !existsSync(path)) return;
  const dir = dirname(path);
  if (writableHere(dir) || !isWalFile(path)) return;
  const file = basename(path);
  const message =
    `${path} cannot be read here: it is a WAL database without its ${file}-shm, and ${dir} is not writable by this account, ` +
    `while SQLite must make ${file}-shm (its WAL index) beside a WAL database to read it, even read-only; ` +
    `copy the folder to storage this account may write (cp -a) and run the command on the copy, or run it where ${dir} is writable by this account ` +
    '(a command that only reads leaves the folder as it found it)';
  throw validationError([{ path: 'data', rule: 'usable_folder', message }], 'data folder');
};
