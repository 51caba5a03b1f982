import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { validationError, type CredenceError } from '../../../domain/errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { addedTakenAway, removeMade, sweptOnDiscard } from './folder-removal.ts';
import { isProcessAlive } from './process-alive.ts';
import { tightenDataFolder } from './private-data-folder.ts';
import { assertNoneForeignOwned, foreignOwnedPathsIn, preparePrivateDatabaseFile, preparePrivateDir, type ForeignOwnedPath } from './private-files.ts';
import { refuseUnwritableFolder } from './unwritable-folder.ts';

/** Who holds the folder (pid, host, since when): written by the holder, read only to name it in a refusal. */
export const SERVICE_LOCK_FILE = 'service.lock';
/** The lock itself: a SQLite database the holder keeps an exclusive transaction open on. */
export const SERVICE_LOCK_DB_FILE = 'service-lock.db';
/** A device folder's lock (bin/commands/device/folder-lock.ts): a folder holding it is a device simulator's. */
export const DEVICE_LOCK_DB_FILE = 'device-lock.db';
/**
 * The key-making lock local token commands hold while they write a data folder without its lock (bin/commands/
 * access-key-making-lock.ts holdAccessKeyMaking): made once and kept (only a refused command that made it removes it).
 */
export const ACCESS_KEY_MAKING_FILE = 'access-key-making.lock';
/**
 * Files that make a folder another process's: a data folder's or a device folder's lock, or a token command's
 * key-making lock (one made or held since a lock was taken says another process wrote the folder meanwhile).
 */
const FOLDER_LOCK_FILES = [SERVICE_LOCK_DB_FILE, DEVICE_LOCK_DB_FILE, ACCESS_KEY_MAKING_FILE];
/** Those of another process, at the top of a folder this lock made: it keeps all but this lock's files (review 410). */
const OTHERS_LOCK_FILES = FOLDER_LOCK_FILES.filter((name) => name !== SERVICE_LOCK_DB_FILE);

/**
 * `sweep` run while no local token command holds `dir`'s key-making lock (review 410: one that took it before the
 * folder lock was taken and writes after would have its access.db swept): the lock taken exclusively at once and held
 * through the sweep (a token command coming meanwhile waits for it), nothing run when it is held or is no lock. No
 * lock file: none was taken before this lock (one made since keeps the sweep from sweeping: folder-removal.ts).
 */
const whileKeyMakingFree = (dir: string) => (sweep: () => void): void => {
  const file = join(dir, ACCESS_KEY_MAKING_FILE);
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
  } catch {
    if (!existsSync(file)) sweep();
    return;
  }
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch {
    db.close();
    return; // Held by a token command (or a key command), or no SQLite database: nothing is swept.
  }
  try {
    sweep();
  } finally {
    db.close();
  }
};

export interface DataFolderLock {
  /** Lets go of the folder (and removes the holder file if it is still this process's). Idempotent. */
  release(): void;
  /**
   * For a command that refused after taking the lock: lets go of the folder as `release` does, and a folder this lock
   * made (it did not exist before) is removed first, with all it holds, while the lock still keeps every other
   * process out; in a folder that existed, the lock's database goes when this lock made it, and what was added to it
   * since the lock was taken goes too when it held nothing of a data folder's then (`addedTakenAway`); all else is
   * left as it is. Idempotent, and nothing once released.
   */
  discard(): void;
}

/** Who holds a data folder: a process on a host, or a holder file that names none (not written yet, or damaged). */
export type DataFolderHolder = { readonly pid: number; readonly host: string; readonly earlierVersion?: true } | undefined;

/** The holder as refusals name it. */
export const describeHolder = (holder: DataFolderHolder): string =>
  holder === undefined
    ? 'another process'
    : `process ${holder.pid} on ${holder.host}${holder.earlierVersion === true ? ', a service of an earlier version of Credence' : ''}`;

/** Written in the holder file by this lock: one without it is an earlier version's, whose file was the lock itself. */
const MARK = 'service-lock.db';

const holderFileOf = (file: string): { readonly pid: number; readonly host: string; readonly lock?: unknown; readonly startedAt?: unknown } | undefined => {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown; host?: unknown; lock?: unknown; startedAt?: unknown };
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string'
      ? { pid: parsed.pid, host: parsed.host, lock: parsed.lock, startedAt: parsed.startedAt }
      : undefined;
  } catch {
    return undefined;
  }
};

/** Clock ticks per second of /proc's start times (USER_HZ, 100 on every Linux Node runs on). */
const USER_HZ = 100;

/**
 * When process `pid` started (ms since the epoch), from /proc (Linux): undefined where there is none, or it cannot
 * be read. The boot time and the process's start in ticks since boot.
 */
const processStartedAt = (pid: number): number | undefined => {
  try {
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is the 3rd, starttime the 22nd.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    if (boot === null || !Number.isFinite(ticks)) return undefined;
    return Number(boot[1]) * 1000 + (ticks / USER_HZ) * 1000;
  } catch {
    return undefined;
  }
};

/** The holder `file` (a folder's `service.lock`) names: read only to name it in a refusal. */
export const holderOf = (file: string): DataFolderHolder => {
  const holder = holderFileOf(file);
  return holder === undefined ? undefined : { pid: holder.pid, host: holder.host };
};

/**
 * A service of an earlier version holds the folder by `service.lock` alone (created exclusively, naming its pid) and
 * never opens `service-lock.db`: while that very process runs on this host, the folder is its (a lock-step upgrade
 * stops it first). The pid alone does not say so: after a reboot, or in a restarted container (pid 1), the pid is
 * another process's. So the file holds only when the process named started before the file was written (Linux, by
 * /proc; elsewhere a live pid holds it, as it did for that version); a file of this lock, of a process that is gone
 * or started since, or naming this very process holds nothing. (A wall clock stepped forward after that service
 * started makes /proc's start times later: its file is then taken for a stale one.)
 */
const heldByEarlierVersion = (file: string): DataFolderHolder => {
  const holder = holderFileOf(file);
  if (holder === undefined || holder.lock === MARK || holder.host !== hostname() || holder.pid === process.pid) return undefined;
  if (!isProcessAlive(holder.pid)) return undefined;
  const written = typeof holder.startedAt === 'string' ? Date.parse(holder.startedAt) : Number.NaN;
  const started = processStartedAt(holder.pid);
  // A second of slack: the start time is in ticks, the file's in ms, and the file is written just after the start.
  // Where the start cannot be read (no /proc), the live pid is taken at its word, as that version did.
  if (started !== undefined && (Number.isNaN(written) || started > written + 1_000)) return undefined;
  return { pid: holder.pid, host: holder.host, earlierVersion: true };
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
export const lockDataFolder = (dir: string, alsoForeign: readonly ForeignOwnedPath[] = []): DataFolderLock => {
  const taken = tryLockDataFolder(dir, alsoForeign);
  if ('lock' in taken) return taken.lock;
  throw dataFolderInUse(dir, taken.heldBy);
};

/**
 * For a command that writes nothing in a data folder but its lock (`credence key`, review 399), called before it
 * takes the lock: what it calls on refusal in place of `discard`. The lock's database goes when it was not there
 * before, then the lock is released; nothing else, whoever added it: a local token command writes the folder without
 * this lock, so what was added meanwhile is its, where `discard` of a folder that held nothing would sweep it.
 */
export const droppingOnlyOwnLockFiles = (dir: string): ((lock: { release(): void }) => void) => {
  const lockFile = join(dir, SERVICE_LOCK_DB_FILE);
  const made = !existsSync(lockFile);
  return (lock) => {
    try {
      // While the lock is held, as `discard` removes it: another process's try is refused at once, never waited for.
      if (made) for (const file of [lockFile, `${lockFile}-journal`]) rmSync(file, { force: true });
    } finally {
      lock.release();
    }
  };
};

/** The refusal of a data folder another process holds, naming that process. */
export const dataFolderInUse = (dir: string, holder: DataFolderHolder): CredenceError =>
  validationError(
    [{ path: 'data', rule: 'unlocked', message: `${dir} is in use by ${describeHolder(holder)} (${SERVICE_LOCK_FILE}); stop that service first, or, if it is another credence command (ca, key, projections, verify, replay), let it end` }],
    'data folder',
  );

/**
 * `lockDataFolder` for a caller that goes on without the lock: who holds the folder instead of a refusal.
 * `alsoForeign`: paths of another account outside the folder the caller will open (a KEK kept elsewhere), named in the
 * same refusal.
 */
export const tryLockDataFolder = (
  dir: string,
  alsoForeign: readonly ForeignOwnedPath[] = [],
): { readonly lock: DataFolderLock } | { readonly heldBy: DataFolderHolder } => {
  // Before anything is made or opened: every file of another account in the folder named in one refusal (review 49).
  assertNoneForeignOwned([...foreignOwnedPathsIn(dir), ...alsoForeign], dir);
  for (let attempt = 1; ; attempt += 1) {
    const made = preparePrivateDir(dir, 'data');
    // Said naming the folder: the holder file's temp would fail with a bare EACCES naming only itself (review 81).
    refuseUnwritableFolder(
      dir,
      `this command takes the folder's lock in it (${SERVICE_LOCK_DB_FILE}, ${SERVICE_LOCK_FILE}), as every command that writes the folder or uses its keys does, so that no service starts meanwhile`,
      `run it as an account that may write ${dir}, or where ${dir} is writable; a command that only reads it (key list) may run on a copy of the folder in storage this account may write (cp -a)`,
    );
    let taken: ReturnType<typeof tryLockFolder>;
    try {
      taken = tryLockFolder(dir, { lockFile: SERVICE_LOCK_DB_FILE, holderFile: SERVICE_LOCK_FILE, heldOtherwise: heldByEarlierVersion });
    } catch (error) {
      // The process that made the folder discarded its lock as this one opened it, removing the folder (review 177):
      // made again, by this lock now.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(dir) && attempt < LOCK_ATTEMPTS) continue;
      throw error;
    }
    // Held by another process (one that found the folder just made): it is that process's, never removed here.
    if (!('lock' in taken)) return taken;
    const lock = made === undefined ? addedTakenAway(taken.lock, dir, [SERVICE_LOCK_DB_FILE, SERVICE_LOCK_FILE], FOLDER_LOCK_FILES, whileKeyMakingFree(dir)) : removedOnDiscard(taken.lock, dir, made);
    try {
      // A copy a restore left readable by others made private (review 198), by the one process that holds the folder.
      tightenDataFolder(dir);
    } catch (error) {
      lock.discard();
      throw error;
    }
    return { lock };
  }
};

/**
 * The lock of a folder it made: `discard` removes the folder (while still holding it: no other process holds it or
 * can take it meanwhile; a folder inside it that another process has locked since stays, with the folder; a folder
 * holding another process's lock at its top, a local token command's key-making lock, keeps all but this lock's own
 * files), then the
 * folders made above it up to `made` while they are empty (another process may
 * have made a folder of its own beside it since), then lets go.
 */
const removedOnDiscard = (lock: DataFolderLock, dir: string, made: string): DataFolderLock =>
  sweptOnDiscard(
    lock,
    dir,
    () => {
      if (!removeMade(dir, true, FOLDER_LOCK_FILES, OTHERS_LOCK_FILES)) {
        // Kept: a folder inside locked since (its files here went already), or another process's lock at the top (a
        // local token command's key-making lock: what it wrote in the folder is its; review 410): this lock's own go.
        for (const file of [SERVICE_LOCK_DB_FILE, `${SERVICE_LOCK_DB_FILE}-journal`]) rmSync(join(dir, file), { force: true });
        return;
      }
      const top = resolve(made);
      for (let above = resolve(dir); above !== top && above.startsWith(`${top}${sep}`); ) {
        above = dirname(above);
        try {
          rmdirSync(above);
        } catch {
          break; // not empty: no longer only what this lock made
        }
      }
    },
    // Its files went with the folder (kept, with it, when a folder inside was locked since): only let go.
    (taken) => taken.release(),
  );

/** How many times a lock is taken before the folder is said to be in use, when each was on a file discarded meanwhile. */
const LOCK_ATTEMPTS = 5;

/** The file `path` names (dev and inode), undefined when there is none. */
export const fileAt = (path: string): { readonly dev: bigint; readonly ino: bigint } | undefined => statSync(path, { bigint: true, throwIfNoEntry: false });

/**
 * The exclusive transaction on the lock database at `lockFile` ('held' while another process holds it), taken on the
 * file the path names once it is held, else 'moved' (review 177): a holder discarding its lock unlinks the file, or
 * removes the folder it made, while another process may have it open but not locked yet; that process's lock on the
 * unlinked file would keep no one out, and a third would lock a new file made at the path. better-sqlite3 gives no
 * descriptor to fstat, so the path is looked at before the open and once the lock is held: the same file both times
 * is the file opened (it could be another only if two holders came and went meanwhile and the last file got the
 * first one's inode number). `lockFileMade`: the file was not there before (its lock's discard removes it).
 */
const lockAtPath = (lockFile: string): { readonly db: Database.Database; readonly lockFileMade: boolean } | 'held' | 'moved' => {
  const lockFileMade = !existsSync(lockFile);
  preparePrivateDatabaseFile(lockFile);
  // Made here where that makes none (Windows), so that there is a file to look at before the open; private at most.
  closeSync(openSync(lockFile, 'a', 0o600));
  const before = fileAt(lockFile);
  let db: Database.Database;
  try {
    // timeout 0: a held lock is answered at once, never waited for.
    db = new Database(lockFile, { timeout: 0 });
  } catch (error) {
    // The folder removed since the look (a holder's discard of a folder it made): better-sqlite3 says so untyped
    // ("the directory does not exist") or SQLITE_CANTOPEN (review 180). Tried again; the try remakes the folder.
    if (!sameFile(before, fileAt(lockFile))) return 'moved';
    throw error;
  }
  try {
    // An empty file takes no lock (SQLite has no page to lock yet): the first holder gives it one.
    db.exec('CREATE TABLE IF NOT EXISTS data_folder_lock (held INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if (isBusy(error)) return 'held';
    // SQLite may fail on a file unlinked while open (a disk I/O error writing its first table): tried again.
    if (!sameFile(before, fileAt(lockFile))) return 'moved';
    throw error;
  }
  if (sameFile(before, fileAt(lockFile))) return { db, lockFileMade };
  db.close();
  return 'moved';
};

/** Whether two looks at a path (fileAt) found the same file. */
export const sameFile = (a: ReturnType<typeof fileAt>, b: ReturnType<typeof fileAt>): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

/** The files of one folder's lock, and who else may hold the folder without them (an earlier version's holder file). */
export interface FolderLockFiles {
  /** The SQLite database the holder keeps an exclusive transaction open on: the lock itself. */
  readonly lockFile: string;
  /** Names the holder (pid, host, since when) for refusals; removed on release. */
  readonly holderFile: string;
  readonly heldOtherwise?: (holderFile: string) => DataFolderHolder;
}

/**
 * The lock of `tryLockDataFolder` on files of the caller's choosing, in a folder that must exist (it is never made
 * here: a caller that must not make a folder, a device command's, locks without making one). Another folder's lock
 * (a device simulator's) gets the same guarantees: refused at once when held, dropped by the system with the process.
 */
export const tryLockFolder = (dir: string, files: FolderLockFiles): { readonly lock: DataFolderLock } | { readonly heldBy: DataFolderHolder } => {
  const lockFile = join(dir, files.lockFile);
  const holderFile = join(dir, files.holderFile);
  let opened = lockAtPath(lockFile);
  for (let attempt = 1; opened === 'moved' && attempt < LOCK_ATTEMPTS; attempt += 1) opened = lockAtPath(lockFile);
  // Taken on a file its path no longer named, time after time: other processes are taking and discarding the lock.
  if (opened === 'held' || opened === 'moved') return { heldBy: holderOf(holderFile) };
  const { db, lockFileMade } = opened;
  const other = files.heldOtherwise?.(holderFile);
  if (other !== undefined) {
    db.close();
    return { heldBy: other };
  }
  const me = { pid: process.pid, host: hostname() };
  try {
    writeFileAtomic(holderFile, JSON.stringify({ ...me, lock: files.lockFile, startedAt: new Date().toISOString() }));
  } catch (error) {
    db.close();
    throw error;
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    try {
      const holder = holderOf(holderFile);
      if (holder?.pid === me.pid && holder.host === me.host) unlinkSync(holderFile);
    } finally {
      // Closing ends the transaction and drops the lock.
      db.close();
    }
  };
  // This lock never makes its folder: discarding it removes the lock's database when this lock made it (a refused
  // command leaves a folder that existed as it was: review 174, `kek rotate`), while it still holds it: another
  // process's try is refused at once, never waited for, so none takes the lock meanwhile. One there before stays.
  const discard = (): void => {
    if (released) return;
    try {
      if (lockFileMade) for (const file of [lockFile, `${lockFile}-journal`]) rmSync(file, { force: true });
    } finally {
      release();
    }
  };
  return { lock: { release, discard } };
};
