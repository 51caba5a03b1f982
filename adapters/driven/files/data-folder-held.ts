import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dataFolderInUse, holderOf, SERVICE_LOCK_DB_FILE, SERVICE_LOCK_FILE } from './data-folder-lock.ts';

/**
 * Whether a live process holds data folder `dir` by its lock (data-folder-lock.ts), asked without taking the lock:
 * for a command that only reads the folder (`verify --data`) and must write nothing in it, a read-only copy included.
 * The holder keeps an exclusive transaction open on the lock file, which refuses the shared lock a read needs; the
 * system drops it with the process, so a killed service's folder is held by no one. An earlier version's holder
 * (`service.lock` alone) is not seen.
 */
export const isDataFolderHeld = (dir: string): boolean => {
  const path = join(dir, SERVICE_LOCK_DB_FILE);
  if (!existsSync(path)) return false;
  let db: Database.Database;
  try {
    // timeout 0: a held lock is answered at once, never waited for.
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
  } catch {
    return false;
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (error) {
    // Any other failure (a lock file no holder made readable) is no holder: a live one keeps a readable lock.
    const code = (error as { code?: unknown }).code;
    return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  } finally {
    db.close();
  }
};

/**
 * Refuses data folder `dir` while a live process holds it, naming that process as taking its lock would, without
 * taking the lock or making anything: for a service start to say so before it tries its port (review 136: a second
 * `npm start` on the same port was told to stop what held the port, and only on another port that the folder was the
 * first start's).
 */
export const refuseDataFolderInUse = (dir: string): void => {
  if (isDataFolderHeld(dir)) throw dataFolderInUse(dir, holderOf(join(dir, SERVICE_LOCK_FILE)));
};
