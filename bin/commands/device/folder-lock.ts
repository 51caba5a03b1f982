import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DATA_DIR_MODE, describeHolder, DEVICE_LOCK_DB_FILE, removeAtomicWriteStrays, tryLockFolder, type DataFolderLock } from '../../../adapters/driven/files/index.ts';
import { validationError } from '../../../domain/errors.ts';
import type { Io } from '../../io.ts';
import { printable } from '../../printable.ts';

/**
 * One `credence device` command at a time per device folder (found in review 24: two runs on one folder each wrote
 * `device.json` from their own copy, the last one dropping the other's credentials and associations while their keys
 * stayed in the Secure Environment unnamed; and a losing `device init` removed the folder, keys and KEK of the init
 * that won, whose bootstrap credential the server had just enrolled). The data folder's lock (data-folder-lock.ts):
 * an exclusive SQLite transaction on `device-lock.db`, which only one process holds and the system drops with it
 * however it ends, so a killed command never leaves the folder locked; `device.lock` names the holder for the refusal.
 */
export const DEVICE_LOCK_FILE = 'device.lock';

export type DeviceFolderLock = DataFolderLock & {
  /** The temp files interrupted writes had left in the folder, removed once it was locked: their names (no contents). */
  readonly removedStrays: readonly string[];
};

/** Where a device command says one line on stderr: what taking its folder's lock removed. */
export type SayOnStderr = (line: string) => void;

/** `credence device <command>`'s lines on `io`'s stderr, printed through printable (a folder's name is the operator's). */
export const sayOnStderr = (io: Io, command: string): SayOnStderr => (line) => io.err(printable(`credence device ${command}: ${line}`));

/**
 * The line that says which temps the lock's sweep removed from `dir`: how many and their names (none of their
 * contents: a KEK's is a whole KEK), as a data folder's commands say theirs (bin/commands/folder-lock.ts).
 */
const removedStraysLine = (dir: string, removed: readonly string[]): string =>
  `removed ${removed.length} temp file${removed.length === 1 ? '' : 's'} interrupted writes had left in ${dir}: ${removed.join(', ')}`;

const folderError = (rule: string, message: string) => validationError([{ path: 'dir', rule, message }], 'device folder');

/**
 * The lock of the device folder `dir`, which must exist (a folder is never made here: only `device init` makes one);
 * refused at once, never waited for, while another command holds it. The caller releases it after closing the device.
 * Once it is taken, the temps a kill left in the folder go (`.<name>.<pid>.<random>.tmp` of device.json, the pending
 * init, device.lock, and the KEK, a whole KEK), by the data folder's rules (atomic-write-strays.ts): every command
 * that writes the folder holds this lock (`device status`, and `device certificate` but when it keeps a fetched
 * certificate, only read it), so none of them is a write in flight; one a process in another PID namespace may be
 * writing is kept while new. What went is said through `say` (the command's stderr): an operator who finds a file
 * gone, or a backup that differs, learns why.
 */
export const lockDeviceFolder = (dir: string, say?: SayOnStderr): DeviceFolderLock => {
  let taken: ReturnType<typeof tryLockFolder>;
  try {
    taken = tryLockFolder(dir, { lockFile: DEVICE_LOCK_DB_FILE, holderFile: DEVICE_LOCK_FILE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw folderError('device-state', `${dir} holds no device: run credence device init first`);
    throw error;
  }
  if ('lock' in taken) {
    const removedStrays = removeAtomicWriteStrays(dir, []);
    if (removedStrays.length > 0) say?.(removedStraysLine(dir, removedStrays));
    return { ...taken.lock, removedStrays };
  }
  throw folderError(
    'unlocked',
    `${dir} is held by another credence device command (${describeHolder(taken.heldBy)}, ${DEVICE_LOCK_FILE}): nothing was done; run this one again once that one has ended`,
  );
};

/**
 * `device init`'s folder: made by this very run (true), or there already (false), made on its own (never with
 * `recursive`, which answers the same for a folder another run made a moment before) so that only the run that made
 * it may remove it. Missing parents are made as before (private), and never removed.
 */
export const makeDeviceFolder = (dir: string): boolean => {
  mkdirSync(dirname(dir), { recursive: true, mode: DATA_DIR_MODE });
  try {
    mkdirSync(dir, { mode: DATA_DIR_MODE });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
};
