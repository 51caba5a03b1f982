import type Database from 'better-sqlite3';
import { describeHolder, SERVICE_LOCK_FILE, tryLockDataFolder, type DataFolderLock, type SweptDataFolderLock } from '../../adapters/runtime/data-folder.ts';
import { isCredenceError, validationError } from '../../domain/errors.ts';
export { lockStoreFolder } from '../../adapters/runtime/store-folder-lock.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { UsageError } from '../program.ts';

/**
 * The data folder's lock, for a command that writes its read models (brings them up to the head, sets up their
 * tables); undefined when another process holds the folder, a running service above all. Its read models are then
 * that process's to write: the service tells its CRL publisher and OCSP cache of each revocation it projects (one
 * projected by another process first never reaches them), and a table set up by another version could be reset
 * under it. The caller then only reads, and `io` says why.
 */
export const lockUnlessHeld = (data: string, io: Io, command: string): DataFolderLock | undefined => {
  // The command's env, not process.env: the temps beside the KEK it names outside the folder are swept with it.
  const taken = tryLockDataFolder(data, [], io.env ?? process.env);
  if ('lock' in taken) return sayRemovedStrays(taken.lock, data, io, command);
  // The holder as its lock file describes it: another process's words, printed through printable only.
  io.err(printable(`credence ${command}: ${data} is in use by ${describeHolder(taken.heldBy)} (${SERVICE_LOCK_FILE})`));
  io.err(`credence ${command}: reading its read models as that process keeps them, without writing them (--server asks the service)`);
  return undefined;
};

/**
 * Says which temp files of interrupted writes taking the folder's lock removed (names only: one may have held a key),
 * on stderr, as the service says it at info. The lock, for the caller to go on with.
 */
export const sayRemovedStrays = (lock: SweptDataFolderLock, data: string, io: Io, command: string): SweptDataFolderLock => {
  if (lock.removedStrays.length > 0) {
    // Those beside a KEK kept outside the folder (CREDENCE_KEK_FILE) are among them, by full path.
    io.err(printable(`credence ${command}: removed the temp files interrupted writes had left in ${data} or beside its KEK file: ${lock.removedStrays.join(', ')}`));
  }
  return lock;
};

/**
 * Refuses read models that the process holding the folder has not set up yet (a folder whose service is starting):
 * read without writing, they have no tables to read.
 */
export const assertSetUp = (db: Database.Database, data: string, command: string): void => {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'projection_checkpoints'").get() !== undefined) return;
  throw validationError(
    [{ path: 'data', rule: 'set-up', message: `${data}: the process holding the folder has not set up its read models yet; run credence ${command} again once it has, or ask the service (--server)` }],
    'data folder',
  );
};

/** The rules of a `data` path that cannot be a private folder (adapters/driven/files/private-files.ts). */
const FOLDER_RULES: ReadonlySet<string> = new Set(['usable_folder', 'directory', 'private']);

/**
 * A data path the system refused as a folder (a file, under one, not permitted, open to others) is bad usage (exit 2,
 * README 'CLI exit codes'), as a bad setting is; any other error is returned as it was.
 */
export const unusableDataFolderAsUsage = (error: unknown): unknown => {
  const issues = isCredenceError(error, 'validation') && error.problem.code === 'validation' ? error.problem.issues : [];
  if (issues.length === 0 || !issues.every((i) => i.path === 'data' && FOLDER_RULES.has(i.rule))) return error;
  return new UsageError(issues.map((i) => `--data: ${i.message}`));
};
