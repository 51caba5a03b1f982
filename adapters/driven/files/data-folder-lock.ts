import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { validationError } from '../../../domain/errors.ts';
import { DATA_FILE_MODE, preparePrivateDir } from './private-files.ts';

export const SERVICE_LOCK_FILE = 'service.lock';

export interface DataFolderLock {
  /** Removes the lock file if it is still this process's. Idempotent. */
  release(): void;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user; it still holds the folder.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Who holds a data folder: a process on a host, or a lock file that names none (being written, or damaged). */
export type DataFolderHolder = { readonly pid: number; readonly host: string } | undefined;

/** The holder as refusals name it. */
export const describeHolder = (holder: DataFolderHolder): string =>
  holder === undefined ? 'another process' : `process ${holder.pid} on ${holder.host}`;

const holderOf = (file: string): DataFolderHolder => {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; host?: unknown };
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? { pid: parsed.pid, host: parsed.host } : undefined;
  } catch {
    return undefined;
  }
};

/**
 * One service per data folder: two would each run the live runtime (two cascades, two expiry schedulers racing
 * on the same store) and each sweep the other's pending Secure Environment keys at start as a dead run's. The lock
 * is a file created exclusively (O_EXCL) holding the pid; a lock whose process is gone (killed, power loss) is
 * stale and taken over, so a crash never leaves the folder unusable. A lock from another host cannot be checked
 * and is refused: delete it by hand once that host's service is known to be stopped.
 */
export const lockDataFolder = (dir: string): DataFolderLock => {
  const taken = tryLockDataFolder(dir);
  if ('lock' in taken) return taken.lock;
  throw validationError(
    [{ path: 'data', rule: 'unlocked', message: `${dir} is in use by ${describeHolder(taken.heldBy)} (${SERVICE_LOCK_FILE}); stop that service first` }],
    'data folder',
  );
};

/** `lockDataFolder` for a caller that goes on without the lock: who holds the folder instead of a refusal. */
export const tryLockDataFolder = (dir: string): { readonly lock: DataFolderLock } | { readonly heldBy: DataFolderHolder } => {
  preparePrivateDir(dir);
  const file = join(dir, SERVICE_LOCK_FILE);
  const me = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', DATA_FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = holderOf(file);
      const stale = holder !== undefined && holder.host === me.host && holder.pid !== me.pid && !isAlive(holder.pid);
      if (!stale) return { heldBy: holder };
      unlinkSync(file);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify({ ...me, startedAt: new Date().toISOString() }));
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      lock: {
        release() {
          if (released) return;
          released = true;
          const holder = holderOf(file);
          if (holder?.pid === me.pid && holder.host === me.host) unlinkSync(file);
        },
      },
    };
  }
  throw validationError([{ path: 'data', rule: 'unlocked', message: `${dir}: could not take ${SERVICE_LOCK_FILE}` }], 'data folder');
};
