import { chmodSync, closeSync, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { validationError } from '../../../domain/errors.ts';
import { foreignSecretFileMessage, foreignSecretFolderMessage, type SecretRole } from './secret-file-advice.ts';
import { ownedByAnotherAccount, walkAsLookedUp } from './trusted-file.ts';

/** A data folder: only its owner may list, enter or change it. */
export const DATA_DIR_MODE = 0o700;
/** A data file (a database, its -wal/-shm/-journal, a key): only its owner may read or write it. */
export const DATA_FILE_MODE = 0o600;

/** Whether a file's mode lets its group or others in at all: what no private file (key, PIN, token) may have. */
export const openToGroupOrOthers = (mode: number): boolean => (mode & 0o077) !== 0;

/** SQLite's companion files; SQLite creates them with the permissions of the main database file. */
const COMPANIONS = ['-wal', '-shm', '-journal'] as const;

// Windows has no POSIX permission bits: NTFS ACLs inherit from the folder, and chmod only toggles read-only.
const POSIX = process.platform !== 'win32';

/**
 * The owner check of ssh's StrictModes (review 47 item 1): mode bits say nothing about who owns a file, and whoever
 * owns the data folder or one of its secrets (KEK, key, wrapping-key, PIN or database file) can read every key, plant
 * a KEK it knows, or swap the file later whatever its mode. So a folder or file of another account is refused, never
 * used nor tightened, with a `validation` error (rule `owner`) naming the file, its owner, this process's effective
 * uid and the fix. Where the platform has no uids (`process.geteuid` undefined, e.g. Windows) there is no check.
 * Root is not accepted as an owner either: the rule is the process's own uid, nothing else. A `secret file` (a KEK,
 * which may be a secret a container platform mounts, read-only) is refused with the owner and mode found and what
 * to set where it is mounted (secret-file-advice.ts): chown is no fix there.
 */
export const assertOwnedByProcess = (
  path: string,
  stat: { readonly uid: number; readonly mode?: number },
  field: string,
  subject = 'data folder',
  role?: SecretRole,
): void => {
  const expected = process.geteuid?.();
  if (expected === undefined || stat.uid === expected) return;
  const message =
    role === 'secret file'
      ? foreignSecretFileMessage(path, stat, expected)
      : `${path} is owned by uid ${stat.uid}, not by uid ${expected} that Credence runs as: that account could read or replace the keys. If it is this deployment's, run Credence as uid ${stat.uid} (under sudo for that account: sudo -u '#${stat.uid}' …), or make it this account's with chown ${expected} ${path}; if you do not know how it came there, do not use it`;
  throw validationError([{ path: field, rule: 'owner', message }], subject);
};

/** A path another account owns, and the setting it came from (`data`, or `env CREDENCE_KEK_FILE` for an outside KEK). */
export interface ForeignOwnedPath {
  readonly path: string;
  readonly uid: number;
  readonly field: string;
  /** A KEK outside the folder, or its folder (which root may own too): named with the advice for a mounted secret. */
  readonly role?: SecretRole;
  readonly mode?: number;
}

/**
 * A path's status when it can be read; none when it is missing or cannot be (under a file, not permitted: the
 * opening's own checks name those).
 */
const statIfReadable = (path: string): Stats | undefined => {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
};

/** How many wrong-owned paths a refusal names; the rest are counted. */
export const MAX_NAMED_FOREIGN_PATHS = 16;
// A walk of a data folder stops after this many entries: a folder restored whole holds some dozens.
const MAX_WALKED_ENTRIES = 10_000;

/**
 * Every path in `dir` (the folder itself, then what it holds, subfolders included; bounded) that another account
 * than this process's effective uid owns; none where the platform has no uids or `dir` does not exist. A link is
 * judged by its target and not entered.
 */
export const foreignOwnedPathsIn = (dir: string, field = 'data'): ForeignOwnedPath[] => {
  const expected = process.geteuid?.();
  if (expected === undefined) return [];
  const found: ForeignOwnedPath[] = [];
  let walked = 0;
  const visit = (path: string): void => {
    if (walked++ >= MAX_WALKED_ENTRIES) return;
    const stat = statIfReadable(path);
    if (stat === undefined) return;
    if (stat.uid !== expected) found.push({ path, uid: stat.uid, field });
    if (!stat.isDirectory()) return;
    let names: string[];
    try {
      if (lstatSync(path).isSymbolicLink()) return; // a link to a folder elsewhere: judged above, not walked
      names = readdirSync(path).sort();
    } catch {
      return; // a folder this account may not list: its own entry above is what is refused
    }
    for (const name of names) visit(join(path, name));
  };
  visit(dir);
  return found;
};

/**
 * Refused when `path` passes through a link (any of its components, the last one included, and any met in a link's
 * target on the way) that an account other than this process's and root owns, naming the link and its owner: the rest
 * of this module judges a link by its target, so a link another account owns, to a folder of this account's, passed
 * every owner check, and that account can point it elsewhere whenever it likes (found in review 302: as `nobody`,
 * /tmp/x to a root-owned folder; root's `device init --dir /tmp/x` locked and wrote the target). Review 304: a link of
 * root's to that link was followed through it unseen, so the path is walked as the system looks it up (trusted-file.ts,
 * walkAsLookedUp). ssh's StrictModes refuses the same. A name that cannot be looked up (missing, not permitted) ends
 * the walk, as too many links do: the opening's own checks name those. Where the platform has no uids there is no check.
 */
export const assertNoForeignLinkOn = (path: string, field: string, subject: string): void => {
  const expected = process.geteuid?.();
  if (expected === undefined) return;
  const absolute = resolve(path);
  const link = walkAsLookedUp(absolute, (step) => (step.kind === 'name' && step.target !== undefined && ownedByAnotherAccount(step.stat.uid, expected) ? step : undefined));
  if (link === undefined) return;
  const onTheWay = link.entry === absolute ? '' : `, on the way to ${absolute}`;
  throw validationError(
    [{
      path: field,
      rule: 'owner',
      message: `${link.entry} is a link owned by uid ${link.stat.uid} (to ${link.target})${onTheWay}, neither uid ${expected} that Credence runs as nor root: that account can point it at another folder whenever it likes, so it is not followed; give the folder's own path, or remove the link if you do not know how it came there`,
    }],
    subject,
  );
};

/** `path` when another account owns it (a link judged by its target); none when it is missing or ours. */
export const foreignOwnedPath = (path: string, field: string, role?: SecretRole): ForeignOwnedPath[] => {
  const expected = process.geteuid?.();
  const stat = expected === undefined ? undefined : statIfReadable(path);
  return stat === undefined || stat.uid === expected ? [] : [{ path, uid: stat.uid, field, mode: stat.mode, ...(role === undefined ? {} : { role }) }];
};

/** A secret file's or folder's refusal (secret-file-advice.ts), for one of `ForeignOwnedPath`'s roles. */
const foreignSecretMessage = (found: ForeignOwnedPath & { readonly role: SecretRole }, expected: number): string =>
  found.role === 'secret file' ? foreignSecretFileMessage(found.path, found, expected) : foreignSecretFolderMessage(found.path, found.uid, expected);

/**
 * One refusal for every wrong-owned path an opening would check (review 49 item 5: a folder restored under another
 * uid named one path per run): the first MAX_NAMED_FOREIGN_PATHS named with their owners, the rest counted, one issue
 * per setting they came from. The fix offered first is to run as the owner (`sudo -u`): a `chown` to root of a
 * service account's folder, the fix a sudo run would otherwise suggest, locks that service out of it. A path with a
 * role (a KEK outside the folder, its folder) has its own sentence: its owner, mode and what to set where it is
 * mounted, or that root may own its folder.
 */
export const assertNoneForeignOwned = (found: readonly ForeignOwnedPath[], folder: string | undefined, subject = 'data folder'): void => {
  const expected = process.geteuid?.();
  if (expected === undefined || found.length === 0) return;
  const fields = [...new Set(found.map((f) => f.field))];
  const issues = fields.map((field) => {
    const secrets = found.filter((f): f is ForeignOwnedPath & { readonly role: SecretRole } => f.field === field && f.role !== undefined);
    const mine = found.filter((f) => f.field === field && f.role === undefined);
    if (mine.length === 0) return { path: field, rule: 'owner', message: secrets.map((f) => foreignSecretMessage(f, expected)).join('; ') };
    const named = mine.slice(0, MAX_NAMED_FOREIGN_PATHS).map((f) => `${f.path} (uid ${f.uid})`);
    const rest = mine.length - named.length;
    const list = `${named.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`;
    const chown = folder !== undefined && field === 'data' ? `chown -R ${expected} ${folder}` : `chown ${expected} ${mine.map((f) => f.path).slice(0, MAX_NAMED_FOREIGN_PATHS).join(' ')}`;
    const owner = mine[0]!.uid;
    const single = mine.length === 1 ? `${mine[0]!.path} is owned by uid ${mine[0]!.uid}` : `${mine.length} paths are owned by another account: ${list}`;
    return {
      path: field,
      rule: 'owner',
      message: `${single}, not by uid ${expected} that Credence runs as: that account could read or replace the keys. If you ran this under sudo for the service's account, run it as that account instead (sudo -u '#${owner}' …); if this deployment is to run as uid ${expected}, make them this account's with ${chown}; if you do not know how they came there, do not use them${secrets.map((f) => `; ${foreignSecretMessage(f, expected)}`).join('')}`,
    };
  });
  throw validationError(issues, subject);
};

/** `assertOwnedByProcess` for a path that may not exist yet (nothing to check then); a link is judged by its target. */
export const assertOwnedByProcessIfPresent = (path: string, field: string, subject?: string): void => {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat !== undefined) assertOwnedByProcess(path, stat, field, subject);
};

/** A path the system will not make or enter as a folder (by its error code), as a `validation` error naming `field`. */
const unusableFolder = (dir: string, field: string, error: unknown): unknown => {
  const code = (error as NodeJS.ErrnoException).code;
  const issue = (message: string) => validationError([{ path: field, rule: 'usable_folder', message }], 'data folder');
  switch (code) {
    case 'EEXIST':
      return issue(`${dir} is a file, not a folder: choose another path`);
    case 'ENOTDIR':
      return issue(`${dir} cannot be a folder: a part of the path above it is a file, not a folder`);
    // Review 271: a folder above it that cannot be made (a link to a path that does not exist, a file system that
    // makes no folders, such as /proc) was the system's `ENOENT: … mkdir`, exit 1.
    case 'ENOENT':
      return issue(`${dir} cannot be made: it or a part of the path above it is a link to nothing, or on a file system that makes no folders there (such as /proc); choose another path`);
    case 'ELOOP':
      return issue(`${dir} cannot be made or entered: a part of the path is a link that leads back to itself (ELOOP); choose another path`);
    case 'EACCES':
    case 'EPERM':
      return issue(`${dir} cannot be made or entered: permission denied (${code}) on it or a folder above it; choose a path this user may write to`);
    // Review 373 item 1: a new folder on a read-only mount, a full disk or a used-up quota was the system's
    // `EROFS: read-only file system, mkdir …` (exit 1).
    case 'EROFS':
      return issue(`${dir} cannot be made: it is on a read-only file system (EROFS); choose a path on a writable one, or mount it read-write`);
    case 'ENOSPC':
      return issue(`${dir} cannot be made: there is no space left on its file system (ENOSPC); free some space there, or choose a path on another file system`);
    case 'EDQUOT':
      return issue(`${dir} cannot be made: this user's disk quota on its file system is used up (EDQUOT); free some space there, or choose a path on another file system`);
    default:
      return error;
  }
};

/**
 * `dir` and every folder above it that is missing, made top-down one level at a time (each mode 0700), rather than by
 * Node's recursive mkdir, which loops for ever on a path it cannot make in procfs (review 271: `--data /proc/1/x` spun
 * at 100% CPU, deaf to SIGTERM). A level already there is fine when it is a folder (made by another process meanwhile
 * too); a file or a link to nothing there fails at the next level (ENOTDIR, ENOENT), or, at `dir` itself, as EEXIST
 * (a file) or ENOENT (a link to nothing): the system's error codes, which the caller names. Returns the topmost folder
 * made, as the path was given, or undefined.
 */
const makeFolderByLevels = (dir: string): string | undefined => {
  // `dir` itself always tried: what is there already must be a folder.
  const levels = [dir];
  for (let level = dirname(dir); level !== levels[0] && !existsAsEntry(level); level = dirname(level)) levels.unshift(level);
  let made: string | undefined;
  for (const level of levels) {
    try {
      mkdirSync(level, { mode: DATA_DIR_MODE });
      made ??= level;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (level !== dir) continue; // a folder, or what fails the next level
      const there = statSync(level, { throwIfNoEntry: false });
      if (there?.isDirectory() === true) continue;
      throw there === undefined ? Object.assign(new Error(`${dir} is a link to nothing`), { code: 'ENOENT' }) : error;
    }
  }
  return made;
};

/** Whether anything (a folder, a file, a link, even to nothing) is at `path`; one that cannot be looked at counts, mkdir says why. */
const existsAsEntry = (path: string): boolean => {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
};

/**
 * The data folder (events, read models, key registry, transparency log, Secure Environment): created with mode
 * 0700 when missing; an existing folder of another account is refused (`assertOwnedByProcess`), and so is one that
 * group or others may write to, since anyone who can write there can replace a database or a key file underneath us
 * (a `validation` error naming the folder and the fix).
 * A path that cannot be a folder (a file, or under one) or that this user may not make or enter is a `validation`
 * error too (rule `usable_folder`), not the system's error. `field` is the setting the path came from (`data`).
 * Returns the first folder it made (the topmost of those missing), or undefined when `dir` existed.
 */
export const preparePrivateDir = (dir: string, field = 'data'): string | undefined => {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty path');
  let made: string | undefined;
  let stat: ReturnType<typeof statSync>;
  try {
    made = makeFolderByLevels(dir);
    stat = statSync(dir);
  } catch (error) {
    throw unusableFolder(dir, field, error);
  }
  if (!stat.isDirectory()) {
    throw validationError([{ path: field, rule: 'directory', message: `${dir} is not a folder` }], 'data folder');
  }
  // Another account's folder: everything in it of another account named at once, not one path per run (review 49).
  if (stat.uid !== (process.geteuid?.() ?? stat.uid)) assertNoneForeignOwned(foreignOwnedPathsIn(dir, field), dir);
  assertOwnedByProcess(dir, stat, field);
  assertNotWritableByOthers(dir, stat, field);
  return made;
};

/**
 * Refused when group or others may write to the folder `dir` (its `stat`), since they could replace a database or a key
 * file in it: a `validation` error naming `field` (the setting the path came from) and `subject` (what the folder is,
 * a data folder unless the caller says otherwise: a device's, review 417), with the fix.
 */
export const assertNotWritableByOthers = (dir: string, stat: { readonly mode: number }, field: string, subject = 'data folder'): void => {
  if (!POSIX || (stat.mode & 0o022) === 0) return;
  const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
  throw validationError([{ path: field, rule: 'private', message: `${dir} is writable by group or others (mode ${mode}); run chmod 700 ${dir}` }], subject);
};

/**
 * A database file that only its owner can read: created empty with mode 0600 before SQLite opens it (SQLite then
 * creates its -wal/-shm/-journal with the same mode), whatever the process umask; an existing file, or a companion,
 * left readable by others by an earlier version is tightened to 0600, and one of another account is refused. An
 * empty file is a valid empty database.
 */
export const preparePrivateDatabaseFile = (path: string): void => {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty path');
  if (!POSIX) return;
  try {
    const fd = openSync(path, 'wx', DATA_FILE_MODE);
    try {
      fchmodSync(fd, DATA_FILE_MODE); // open's mode went through the umask; the file gets exactly 0600
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  tightenPrivateDatabaseFile(path);
};

/**
 * An existing database file (and its companions) made private (0600) if an earlier copy or restore left it readable
 * by others; nothing is created. For a file that must not be made afresh when it is missing (a wrapping-key file).
 * Any of them owned by another account is refused before any is changed.
 */
export const tightenPrivateDatabaseFile = (path: string): void => {
  if (!POSIX) return;
  const found = [path, ...COMPANIONS.map((suffix) => `${path}${suffix}`)].flatMap((file) => {
    const stat = statSync(file, { throwIfNoEntry: false });
    return stat === undefined ? [] : [{ file, stat }];
  });
  for (const { file, stat } of found) assertOwnedByProcess(file, stat, 'data', 'data file');
  for (const { file, stat } of found) if (openToGroupOrOthers(stat.mode)) chmodSync(file, stat.mode & DATA_FILE_MODE);
};

/**
 * Runs `create` (synchronous: it opens or creates data files) under the umask 077, so every file it creates, whoever's
 * code creates it (SQLite makes its files 0644 less the umask), is private; the umask is restored before returning.
 * The umask is per process: only the main thread may set it (a worker runs `create` as is; pre-create with
 * `preparePrivateDatabaseFile` for that case), and nothing else runs meanwhile since `create` does not await.
 */
export const withPrivateUmask = <T>(create: () => T): T => {
  if (!POSIX || !isMainThread) return create();
  const previous = process.umask(0o077);
  try {
    const result = create();
    if (result instanceof Promise) throw new TypeError('create must be synchronous: the umask would leak past an await');
    return result;
  } finally {
    process.umask(previous);
  }
};
