import Database from 'better-sqlite3';
import { readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { validationError } from '../../../domain/errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { preparePrivateDatabaseFile, preparePrivateDir } from './private-files.ts';

/** Who holds the folder (pid, host, since when): written by the holder, read only to name it in a refusal. */
export const SERVICE_LOCK_FILE = 'service.lock';
/** The lock itself: a SQLite database the holder keeps an exclusive transaction open on. */
export const SERVICE_LOCK_DB_FILE = 'service-lock.db';

export interface DataFolderLock {
  /** Lets go of the folder (and removes the holder file if it is still this process's). Idempotent. */
  release(): void;
}

/** Who holds a data folder: a process on a host, or a holder file that names none (not written yet, or damaged). */
export type DataFolderHolder = { readonly pid: number; readonly host: string } | undefined;

/** The holder as refusals name it. */
export const describeHolder = (holder: DataFolderHolder): string =>
  holder === undefined ? 'another process' : `process ${holder.pid} on ${holder.host}`;

/** Written in the holder file by this lock: one without it is an earlier version's, whose file was the lock itself. */
const MARK = 'service-lock.db';

const holderFileOf = (file: string): { readonly pid: number; readonly host: string; readonly lock?: unknown } | undefined => {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; host?: unknown; lock?: unknown };
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? { pid: parsed.pid, host: parsed.host, lock: parsed.lock } : undefined;
  } catch {
    return undefined;
  }
};

const holderOf = (file: string): DataFolderHolder => {
  const holder = holderFileOf(file);
  return holder === undefined ? undefined : { pid: holder.pid, host: holder.host };
};

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A service of an earlier version holds the folder by `service.lock` alone (created exclusively, naming its pid) and
 * never opens `service-lock.db`: while that process lives on this host, the folder is its (a lock-step upgrade
 * stops it first). A file of this lock, of a process that is gone, or naming this very process holds nothing.
 */
const heldByEarlierVersion = (file: string): DataFolderHolder => {
  const holder = holderFileOf(file);
  if (holder === undefined || holder.lock === MARK || holder.host !== hostname() || holder.pid === process.pid) return undefined;
  return isAlive(holder.pid) ? { pid: holder.pid, host: holder.host } : undefined;
};

const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
};

/**
 * One service per data folder: two would each run the live runtime (two cascades, two expiry schedulers racing
 * on the same store) and each sweep the other's pending Secure Environment keys at start as a dead run's. The lock
 * is the operating system's: an exclusive SQLite transaction held open on `service-lock.db` (a POSIX record lock),
 * which only one process can hold and which the system drops with the process, however it ends (a kill, a power
 * loss). So a crash never leaves the folder locked: a reused pid (pid 1 in a container after a restart) or an empty
 * holder file cannot keep the folder, and two processes taking over a dead one's lock at once cannot both get it.
 * `service.lock` names the holder for refusals; one an earlier version wrote (its lock) is honoured while its
 * process lives on this host.
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
  const lockFile = join(dir, SERVICE_LOCK_DB_FILE);
  const holderFile = join(dir, SERVICE_LOCK_FILE);
  preparePrivateDatabaseFile(lockFile);
  // timeout 0: a held lock is answered at once, never waited for.
  const db = new Database(lockFile, { timeout: 0 });
  try {
    // An empty file takes no lock (SQLite has no page to lock yet): the first holder gives it one.
    db.exec('CREATE TABLE IF NOT EXISTS data_folder_lock (held INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if (isBusy(error)) return { heldBy: holderOf(holderFile) };
    throw error;
  }
  const earlier = heldByEarlierVersion(holderFile);
  if (earlier !== undefined) {
    db.close();
    return { heldBy: earlier };
  }
  const me = { pid: process.pid, host: hostname() };
  try {
    writeFileAtomic(holderFile, JSON.stringify({ ...me, lock: MARK, startedAt: new Date().toISOString() }));
  } catch (error) {
    db.close();
    throw error;
  }
  let released = false;
  return {
    lock: {
      release() {
        if (released) return;
        released = true;
        try {
          const holder = holderOf(holderFile);
          if (holder?.pid === me.pid && holder.host === me.host) unlinkSync(holderFile);
        } finally {
          // Closing ends the transaction and drops the lock.
          db.close();
        }
      },
    },
  };
};
