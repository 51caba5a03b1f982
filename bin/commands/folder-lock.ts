import { lockDataFolder, type DataFolderLock } from '../../adapters/runtime/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
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
    for (const issue of problem.issues) io.err(`credence ${command}: ${issue.message.replace(/; stop that service first$/, '')}`);
    io.err(`credence ${command}: reading its read models as that process keeps them, without writing them (--server asks the service)`);
    return undefined;
  }
};
