import Database from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, existsSync, fchmodSync, lstatSync, openSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ACCESS_KEY_MAKING_FILE, fileAt, sameFile } from '../../adapters/driven/files/data-folder-lock.ts';
import { isWriteLockHeld } from '../../adapters/driven/files/lock-wait.ts';
import { tightenPrivateDatabaseFile } from '../../adapters/driven/files/private-files.ts';
import { validationError } from '../../domain/errors.ts';

/*
 * Review 378 #3: a local `token create` or `token rotate-key` (token-target.ts withLocalAccess) generates an API token
 * signing key, then names it in access.db; between the two the key is named by nothing, and `key list` called it
 * unnamed and `key destroy` destroyed it, leaving access.db naming a key no one holds. The folder lock cannot keep them
 * apart: a token command runs beside a running service, which holds it. A write transaction on access.db from the
 * generate to the commit cannot either: the access registry (adapters/driven/access) commits on a connection of its
 * own that nothing outside it reaches, which a lock held on another connection would keep from committing; and held
 * across the generate's await in the service, it would take in other requests' writes. A pending record before the
 * generate would need a table access.db does not have.
 *
 * So the folder has one key-making lock (review 399): `access-key-making.lock`, a SQLite database in rollback-journal
 * mode, made by the first local token command (0600; removed only by a refused command that made it). Each token command holds a read transaction on
 * it while it has access.db open (SHARED: several run together); `key list` and `key destroy` take an exclusive one
 * before they read access.db, which waits for every current holder while SQLite's PENDING lock keeps new ones back, so
 * a key they see was either named by then or discarded; a key generated after they looked is not among those they list
 * or destroy. Review 410: a token command touches the file as it takes it and as it lets go, and a refused start's
 * sweep runs only while it takes the lock at once (data-folder-lock.ts); a file in WAL mode is no lock (a reader
 * there keeps no BEGIN EXCLUSIVE out) and is refused. The system drops a lock with its process, however it ends:
 * nothing is ever stale, nothing is swept.
 */
/** An earlier version's lock, one file per token command: a key command removes one whose lock is free. */
const EARLIER_MAKING_FILE = /^access-key-making-\d+-[0-9a-f]+\.lock$/;
/** How long a key command waits, in all, for the token commands making a key: each makes one key and writes one row. */
const MAKING_WAIT_MS = 15_000;

/** SQLite's word for a file that is no database of its own (text, another format), which names no file. */
const isNotADatabase = (error: unknown): boolean => error instanceof Database.SqliteError && error.code === 'SQLITE_NOTADB';

/** Said by token and key commands alike, each refused before it makes, lists or destroys anything (`nothing`). */
const notALock = (file: string, data: string, why: string, nothing = 'nothing listed or destroyed') =>
  validationError(
    [
      {
        path: 'data',
        rule: 'access_key_making_file_not_a_lock',
        message:
          `${file} is named as the key-making lock of local credence token commands but is not one (${why}): remove it when no credence token ` +
          `command runs on ${data}, then run this again; ${nothing} [access_key_making_file_not_a_lock]`,
      },
    ],
    'data folder',
  );

/** The lock file at `file` opened, a path there that is no file (a link, a folder) refused naming it. */
const openLock = (file: string, data: string, timeout: number): Database.Database => {
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (stat !== undefined && !stat.isFile()) throw notALock(file, data, 'not a file');
  return new Database(file, { fileMustExist: true, timeout });
};

/**
 * The lock file `db` opened set to rollback-journal mode: 'busy' when another connection holds it so that its mode
 * cannot even be read (a key command's exclusive hold). One in WAL mode that stays so (another connection has it open)
 * is no lock: under WAL a reader keeps no writer out, and BEGIN EXCLUSIVE waits for no reader, so it is refused.
 */
const inRollbackMode = (db: Database.Database, file: string, data: string, nothing?: string): 'delete' | 'busy' => {
  let mode: unknown;
  try {
    mode = db.pragma('journal_mode = DELETE', { simple: true });
  } catch (error) {
    if (!isWriteLockHeld(error)) throw error;
    try {
      mode = db.pragma('journal_mode', { simple: true });
    } catch (again) {
      if (isWriteLockHeld(again)) return 'busy';
      throw again;
    }
    if (mode !== 'wal') return 'busy';
  }
  if (mode === 'delete') return 'delete';
  throw notALock(file, data, `in ${String(mode).toUpperCase()} mode, set by another program: a lock must be in rollback-journal mode`, nothing);
};

/** How many times a lock is taken before giving up, when each was on a file a refused token command removed meanwhile. */
const LOCK_ATTEMPTS = 5;

/** The lock file made (0600, exclusively) when absent: true when this call made it. */
const madeLockFile = (file: string): boolean => {
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      fchmodSync(fd, 0o600); // the mode went through the umask: exactly 0600
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
};

/**
 * Holds the key-making lock for the local token command about to open `data`'s access.db (which may make and name a
 * signing key) until `release`; `discard`, for a refused command, also removes the lock file when it made it (a
 * rejected command writes nothing), while it alone holds it: a command that opened the file meanwhile finds, once it
 * holds its lock, that the path no longer names that file, and takes it again (as lockAtPath does). `data` must exist.
 * A key command taking the lock is waited for (it waits at most MAKING_WAIT_MS for the token commands before it),
 * said once through `say`. A lock file in WAL mode another connection keeps so is refused as no lock.
 */
export const holdAccessKeyMaking = (
  data: string,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): { release(): void; discard(): void } => {
  const file = join(data, ACCESS_KEY_MAKING_FILE);
  const nothing = 'nothing was made';
  let saidWaiting = false;
  for (let attempt = 1; ; attempt += 1) {
    if (lstatSync(file, { throwIfNoEntry: false })?.isFile() === false) throw notALock(file, data, 'not a file', nothing);
    const made = madeLockFile(file);
    if (!made) tightenPrivateDatabaseFile(file);
    const before = fileAt(file);
    // Tried at once first: held by a key command, that is said, then waited for past its whole wait, which keeps new
    // holders back (PENDING) until it has looked or given up.
    const db = new Database(file, { fileMustExist: true, timeout: 0 });
    /** A read transaction on it taken, false when a key command holds it (SQLITE_BUSY past the connection's wait). */
    const takeShared = (): boolean => {
      if (inRollbackMode(db, file, data, nothing) === 'busy') return false;
      try {
        db.exec('CREATE TABLE IF NOT EXISTS access_key_making (held INTEGER)');
        db.exec('BEGIN');
        db.prepare('SELECT count(*) FROM access_key_making').get();
        return true;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        if (isWriteLockHeld(error)) return false;
        throw error;
      }
    };
    try {
      if (!takeShared()) {
        if (!saidWaiting) say(`waiting for a credence key list or key destroy on ${data}`);
        saidWaiting = true;
        db.pragma(`busy_timeout = ${MAKING_WAIT_MS + 5_000}`);
        if (!takeShared()) {
          const message = `${file} is held by a credence key list or key destroy on ${data} that did not let go: run this again once it has ended; nothing was made [access_key_making_held]`;
          throw validationError([{ path: 'data', rule: 'access_key_making_held', message }], 'data folder');
        }
      }
    } catch (error) {
      db.close();
      if (isNotADatabase(error)) throw notALock(file, data, (error as Error).message, nothing);
      throw error;
    }
    if (!sameFile(before, fileAt(file))) {
      db.close();
      if (attempt < LOCK_ATTEMPTS) continue;
      throw new Error(`${file}: removed as it was taken, ${LOCK_ATTEMPTS} times: other token commands are being refused on ${data}; run this again`);
    }
    // When a token command last held it: a command refused meanwhile under the folder lock sweeps nothing
    // (folder-removal.ts); touched as it is taken and again as it is let go, while still held (the file is this one).
    const touch = (): void => {
      try {
        const now = new Date();
        utimesSync(file, now, now);
      } catch {
        // The mark is a precaution: a command that did its work is not failed for it.
      }
    };
    touch();
    return {
      release: () => {
        if (!db.open) return;
        touch();
        // Closing ends the transaction: the lock goes, the file stays for the next command.
        db.close();
      },
      discard: () => {
        if (!db.open) return;
        try {
          if (!made) return;
          db.exec('COMMIT');
          db.pragma('busy_timeout = 0');
          db.exec('BEGIN EXCLUSIVE');
          rmSync(file, { force: true });
        } catch {
          // Held by another command now: the file is its lock too, and stays.
        } finally {
          if (existsSync(file)) touch();
          db.close();
        }
      },
    };
  }
};

/** What one key command's waits share: one deadline in all (set at its first wait), and where it says it waits. */
interface MakingWait {
  readonly say: (line: string) => void;
  deadline?: number;
  /** The folders the wait was said for. */
  readonly said: Set<string>;
}

const makingWaits = new AsyncLocalStorage<MakingWait>();

/** Runs `use` as one key command: every wait for a token command within it shares one deadline, each said through `say`. */
export const asOneKeyCommand = <T>(say: (line: string) => void, use: () => Promise<T>): Promise<T> => makingWaits.run({ say, said: new Set() }, use);

/**
 * `statement` (an exclusive transaction) on `db`: tried at once; if held, said (once for `data`), then waited for
 * until the command's one deadline. SQLITE_BUSY past it.
 */
const takeWithin = (db: Database.Database, statement: string, data: string, wait: MakingWait): void => {
  try {
    db.exec(statement);
    return;
  } catch (error) {
    if (!isWriteLockHeld(error)) throw error;
  }
  if (wait.deadline === undefined) wait.deadline = Date.now() + MAKING_WAIT_MS;
  if (!wait.said.has(data)) wait.say(`waiting up to ${MAKING_WAIT_MS / 1000} s for a local credence token command making an API token signing key in ${data}`);
  wait.said.add(data);
  db.pragma(`busy_timeout = ${Math.max(0, wait.deadline - Date.now())}`);
  db.exec(statement);
};

/** The refusal of a key command that could not see every local token command making a key in `data` end (`why`). */
const beingMade = (data: string, why: string) =>
  validationError(
    [
      {
        path: 'data',
        rule: 'access_key_being_made',
        message:
          `a local credence token command is making an API token signing key in ${data} (${why}): its key is named by nothing until it ends. ` +
          'Let it end, then run this again; nothing listed or destroyed [access_key_being_made]',
      },
    ],
    'data folder',
  );

/**
 * Waits for every local token command making a key in `data` to end (holdAccessKeyMaking), refused past the one
 * deadline. A lock of an earlier version (`access-key-making-<pid>-<random>.lock`) is waited for the same way and
 * removed once free. No lock file: no token command of this version ever ran here, so none is making a key.
 */
export const waitForAccessKeyMaking = (data: string): void => {
  const wait = makingWaits.getStore() ?? { say: (line: string) => process.stderr.write(`${line}\n`), said: new Set<string>() };
  let names: string[];
  try {
    names = readdirSync(data).filter((name) => EARLIER_MAKING_FILE.test(name) || name === ACCESS_KEY_MAKING_FILE);
  } catch {
    return; // No folder: no command made a key in it.
  }
  // The earlier version's files first, then the folder's one lock, taken again if a refused token command removed it.
  names.sort((a, b) => Number(a === ACCESS_KEY_MAKING_FILE) - Number(b === ACCESS_KEY_MAKING_FILE));
  for (let i = 0, attempt = 1; i < names.length; i += 1) {
    const name = names[i]!;
    const file = join(data, name);
    const earlier = name !== ACCESS_KEY_MAKING_FILE;
    const before = fileAt(file);
    let db: Database.Database;
    try {
      db = openLock(file, data, 0);
    } catch (error) {
      if (!existsSync(file)) continue; // Its command ended meanwhile (a refused one removes the lock it made).
      throw error;
    }
    try {
      // A lock file in WAL mode keeps no reader's key from this command (BEGIN EXCLUSIVE waits for none): refused.
      if (!earlier) inRollbackMode(db, file, data);
      takeWithin(db, earlier ? 'BEGIN IMMEDIATE' : 'BEGIN EXCLUSIVE', data, wait);
      // Held: its command ended, or was killed. Removed while held, as that version's own release did.
      if (earlier) rmSync(file, { force: true });
      // The lock of a file a refused token command removed: the one at the path now, if any, is taken instead; a
      // file replaced time after time was never held, so none is known to have ended.
      else if (!sameFile(before, fileAt(file)) && fileAt(file) !== undefined) {
        if (attempt++ >= LOCK_ATTEMPTS) {
          db.exec('ROLLBACK');
          throw beingMade(data, `${name} was replaced as it was taken, ${LOCK_ATTEMPTS} times: token commands are being refused in it meanwhile`);
        }
        i -= 1;
      }
      db.exec('ROLLBACK');
    } catch (error) {
      // Said for `key list` and `key destroy` alike, both refused before they list or destroy anything.
      if (isNotADatabase(error)) throw notALock(file, data, (error as Error).message);
      if (!isWriteLockHeld(error)) throw error;
      throw beingMade(data, `${name}, held by its process, did not end within ${MAKING_WAIT_MS / 1000} s`);
    } finally {
      db.close();
    }
  }
};
