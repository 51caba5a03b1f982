import type Database from 'better-sqlite3';
import { STOP_THE_HOLDER } from '../../adapters/driven/files/index.ts';
import { lockDataFolder, type DataFolderLock } from '../../adapters/runtime/index.ts';
import { isCredenceError, validationError } from '../../domain/errors.ts';
import type { Io } from '../io.ts';

/**
 * The data folder's lock, for a command that writes its read models (brings them up to the head, sets up their
 * tables); undefined when another process holds the folder, a running service above all. Its read models are then
 * that process's to write: the service tells its CRL publisher and OCSP cache of each revocation it projects (one
 * projected by another process first never reaches them), and a table set up by another version could be reset
 * under it. The caller then only reads, and `io` says why.
 */
export const lockUnlessHeld = (data: string, io: Io, command: string): DataFolderLock | undefined => {
  try {
    return lockDataFolder(data);
  } catch (error) {
    const problem = isCredenceError(error, 'validation') ? error.problem : undefined;
    if (problem?.code !== 'validation' || !problem.issues.some((issue) => issue.rule === 'unlocked')) throw error;
    // The lock's own message ends by telling a rebuild to stop the service; here the command goes on, reading.
    for (const issue of problem.issues) io.err(`credence ${command}: ${issue.message.replace(`; ${STOP_THE_HOLDER}`, '')}`);
    io.err(`credence ${command}: reading its read models as that process keeps them, without writing them (--server asks the service)`);
    return undefined;
  }
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
