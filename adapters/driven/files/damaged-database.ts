import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { CredenceError, damagedDatabase, isCredenceError } from '../../../domain/errors.ts';

/**
 * A damaged database file of the data folder, said as a typed `damaged_database` error naming the file and what mends
 * THAT file: better-sqlite3 throws SQLite's bare "database disk image is malformed", which names no file, and each
 * file of the folder is mended another way (found in review 51).
 */

/** SQLite's result codes for a file that is not, or no longer, a whole database (extended codes included). */
const CORRUPTION = /^SQLITE_(CORRUPT|NOTADB)/;

export const isSqliteCorruption = (error: unknown): error is Error & { readonly code: string } =>
  error instanceof Error && error.name === 'SqliteError' && CORRUPTION.test(String((error as { code?: unknown }).code));

const WITH_JOURNAL = '(with its -wal and -shm)';

/**
 * What putting keys.db back brings with it (review 198): the keys destroyed since the backup, bound in use again, and
 * its own mark of the shredder, from which the start goes again over the endings since and destroys them
 * (adapters/runtime/keys-shredded-again.ts). Secure Environment files put back without keys.db would bring those keys
 * back while the current keys.db holds them destroyed, and nothing would destroy them again: hence both from one backup.
 */
const DESTROYED_AGAIN =
  'the keys destroyed since that backup come back, and the next start destroys again those of the credentials and associations the ' +
  'event log says were revoked or expired, saying how many at warn';

/** What mends each database file of the data folder (README, "Restoring the event store from a backup"). */
const REMEDIES: Readonly<Record<string, string>> = {
  'readmodels.db': `it holds only read models: stop the service, move it aside ${WITH_JOURNAL} and start again: it is rebuilt from the events`,
  'events.db':
    `it is the record of every event, and nothing rebuilds it: stop the service and restore it from a backup, ${WITH_JOURNAL.slice(1, -1)} moved aside ` +
    '(README, "Restoring the event store from a backup")',
  'transparency.db':
    'the transparency log is signed and never rebuilt: stop the service and restore it from a backup of the data folder, or move it aside ' +
    `${WITH_JOURNAL} with transparency.key or transparency.handle, and transparency.pub, so that a new log starts under a new key (README, "Restoring the event store from a backup", step 4)`,
  'keys.db':
    `the key registry is no read model (no event brings it back): stop the service and restore it from a backup of the data folder; ${DESTROYED_AGAIN}`,
  'access.db':
    `it holds the tokens and their revocations (no event records them): stop the service and move it aside ${WITH_JOURNAL}, then make new tokens ` +
    '(credence token create): every token made before is refused; restoring it from a backup instead would bring back tokens revoked since',
  'replay-cache.db':
    `it remembers the requests seen within the replay window: stop the service, move it aside ${WITH_JOURNAL}, and start again once that window ` +
    '(an hour by default) has passed, so that no request seen before is taken twice',
  'secure-environment.sqlite':
    'it holds the sealed private keys, and nothing rebuilds them: stop the service and restore it, with secure-environment.wrapping-keys ' +
    `and keys.db, from one backup of the data folder (the keys made since are lost with it); ${DESTROYED_AGAIN}`,
};
const ANY_OTHER = 'stop the service and restore it from a backup of the data folder';

export const remedyFor = (file: string): string => REMEDIES[file] ?? ANY_OTHER;

const damagedAt = (path: string, error: Error & { readonly code: string }): CredenceError =>
  damagedDatabase(path, basename(path), `${error.code}: ${error.message}`, remedyFor(basename(path)));

/** For an opening of `path` that failed: SQLite's corruption as the typed error naming it; anything else as it was. */
export const asDamagedDatabase = (path: string, error: unknown): unknown => (isSqliteCorruption(error) ? damagedAt(path, error) : error);

/**
 * The database files this process opened last, the latest last (a command or a service opens the few of one data
 * folder; a library user or a test process opens many folders one after another), and those found damaged at a
 * statement since they were opened: a service whose file is damaged meets it at every request until it is stopped.
 */
const opened = new Set<string>();
const damaged = new Set<string>();
const REMEMBERED = 16;

/**
 * A check of the folder that found no file damaged, and the files it named instead. It stands for a while: a damage
 * SQLite's quick check does not see (an index that no longer matches its table, SQLITE_CORRUPT_INDEX) fails every
 * request, and checking every file again at each one made a partial fault an outage (review 52).
 */
let unlocated: { readonly at: number; readonly dir: string; readonly files: readonly string[] } | undefined;
const UNLOCATED_STANDS_MS = 60_000;

/**
 * Past this size a file is not checked on a request's path: quick_check reads all of it, while the event loop waits.
 * It is named among the files to check instead.
 */
const LARGEST_CHECKED_BYTES = 64 * 2 ** 20;

/** The verdict on each error met: one request hands its error to more than one handler, and checks the files once. */
const verdicts = new WeakMap<Error, CredenceError>();

/**
 * Called once a database file is open. A file opened again (replaced, restored) is judged again when SQLite next
 * fails, and so is every file found damaged in another folder (this process has moved on to other folders).
 */
export const rememberDatabaseFile = (path: string): void => {
  opened.delete(path);
  opened.add(path);
  unlocated = undefined;
  for (const d of damaged) if (d === path || dirname(d) !== dirname(path)) damaged.delete(d);
  for (const oldest of opened) {
    if (opened.size <= REMEMBERED) break;
    opened.delete(oldest);
    damaged.delete(oldest);
  }
};

// Loaded when a file is checked, by then loaded already: the CLI's commands that open no database never load it.
const requireHere = createRequire(import.meta.url);

/** Whether SQLite's own check finds `path` damaged: read-only, on a connection of its own, stopping at the first fault. */
const failsQuickCheck = (path: string): boolean => {
  try {
    const Database = requireHere('better-sqlite3') as typeof BetterSqlite3;
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.pragma('quick_check(1)', { simple: true }) !== 'ok';
    } finally {
      db.close();
    }
  } catch (error) {
    return isSqliteCorruption(error);
  }
};

interface Candidate {
  readonly path: string;
  readonly size: number;
}

/**
 * The files this process opened and their neighbours of the data folder that other modules open: folder by folder,
 * the one opened last first, and in each the smallest (the quickest checked) first.
 */
const candidates = (): Candidate[] => {
  const latestFirst = [...opened].reverse();
  const dirs = new Set(latestFirst.map((p) => dirname(p)));
  return [...dirs].flatMap((dir) => {
    const files = new Set([...latestFirst.filter((p) => dirname(p) === dir), ...Object.keys(REMEDIES).map((f) => join(dir, f))]);
    return [...files]
      .filter((p) => existsSync(p))
      .map((path) => ({ path, size: statSync(path).size }))
      .sort((a, b) => a.size - b.size);
  });
};

/**
 * A damage no file was found for: the folder, and each file of it to check with SQLite's full check (the one that
 * compares indexes with their tables) and what mends it once found.
 */
const unlocatedIn = ({ dir, files }: NonNullable<typeof unlocated>, error: Error & { readonly code: string }): CredenceError => {
  const names = files.map((p) => basename(p));
  const remedy =
    names.length === 0
      ? ANY_OTHER
      : `find which with \`sqlite3 FILE 'PRAGMA integrity_check'\` on each of ${names.join(', ')} (no file over ` +
        `${LARGEST_CHECKED_BYTES / 2 ** 20} MiB was checked, and SQLite's quick check compares no index with its table), then mend that file: ` +
        names.map((n) => `${n}: ${remedyFor(n)}`).join('; ');
  return new CredenceError({
    code: 'damaged_database',
    file: 'unknown',
    path: dir,
    remedy,
    candidates: names,
    message: `a database of ${dir} is damaged (${error.code}: ${error.message}): ${remedy}`,
  });
};

const locate = (error: Error & { readonly code: string }): CredenceError => {
  const known = [...damaged].find((p) => existsSync(p));
  if (known !== undefined) return damagedAt(known, error);
  if (unlocated === undefined || performance.now() - unlocated.at > UNLOCATED_STANDS_MS) {
    const files = candidates();
    const found = files.find((f) => f.size <= LARGEST_CHECKED_BYTES && failsQuickCheck(f.path));
    if (found !== undefined) {
      damaged.add(found.path);
      return damagedAt(found.path, error);
    }
    const dir = dirname([...opened].at(-1)!);
    unlocated = { at: performance.now(), dir, files: files.filter((f) => dirname(f.path) === dir).map((f) => f.path) };
  }
  return unlocatedIn(unlocated, error);
};

/**
 * The typed error for `error` when it is SQLite's corruption met at a statement, after its database opened: the error
 * names no file, so the files are checked, only now (no statement pays for this), once for an error, and once for a
 * file found damaged. When none is found, the folder and the files to check in it are named (file `unknown`): still
 * no retry helps. Undefined for any other error, and when this process opened no database file.
 */
export const damagedDatabaseOf = (error: unknown): CredenceError | undefined => {
  if (isCredenceError(error, 'damaged_database')) return error;
  if (!isSqliteCorruption(error) || opened.size === 0) return undefined;
  const verdict = verdicts.get(error) ?? locate(error);
  verdicts.set(error, verdict);
  return verdict;
};
