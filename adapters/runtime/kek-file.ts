import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, statfsSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { isCredenceError, validationError } from '../../domain/errors.ts';
import { STRAY_AGE_MS } from '../driven/files/atomic-write-strays.ts';
import { atomicWriteTempOf, ownedByAnotherAccount, writableByGroupOrOthers } from '../driven/files/index.ts';
import { isProcessAlive } from '../driven/files/process-alive.ts';
import { foreignSecretFolderMessage } from '../driven/files/secret-file-advice.ts';
import { secureEnvironmentConfigForDataDir } from '../driven/secure-environment/index.ts';
import { checkKekFile, kekFilesHoldTheSameKek, MAX_PATH_CHARS } from '../driven/secure-environment/kek.ts';
import { nextKekFileOf } from '../driven/secure-environment/kek-next-file.ts';
import { resolvedAsFarAsItExists } from './resolved-path.ts';

/**
 * CREDENCE_KEK_FILE: the KEK of the data folder's embedded Secure Environment kept outside the folder (review 47
 * item 4), so a copy of the folder (a backup, a folder reader) holds sealed keys but not what opens them. The file is
 * made (0600) on first use like the in-folder one, and held to the same rules: refused when group or others may read
 * it or another account owns it. Read where the service and the CLI open the folder's Secure Environment.
 */
export const KEK_FILE_ENVIRONMENT_VARIABLE = 'CREDENCE_KEK_FILE';

// Absolute: a relative path would name another file from each working directory, and a wrong KEK opens no key.
const KekFile = z
  .string()
  .max(MAX_PATH_CHARS, `must be at most ${MAX_PATH_CHARS} characters`)
  .refine((path) => isAbsolute(path), 'must be an absolute path')
  .refine((path) => !/[\0\n\r]/.test(path), 'must not hold NUL or line breaks');

const refusal = (rule: string, message: string) =>
  validationError([{ path: `env ${KEK_FILE_ENVIRONMENT_VARIABLE}`, rule, message }], 'Secure Environment configuration');

/** The KEK file CREDENCE_KEK_FILE names in `env`, parsed; undefined when it is unset or empty (the in-folder KEK). */
export const kekFileOf = (env: Readonly<Record<string, string | undefined>>): string | undefined => {
  const value = env[KEK_FILE_ENVIRONMENT_VARIABLE];
  if (value === undefined || value === '') return undefined;
  const parsed = KekFile.safeParse(value);
  if (!parsed.success) throw refusal('kek_file', parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
};

const sameFile = (a: Stats | undefined, b: Stats | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

/**
 * With a KEK named outside the folder, a KEK still in the folder is refused, before anything is opened or made: a
 * different one means two KEKs and one of them does not open the keys; the same bytes left behind means the folder
 * still holds what the setting was meant to take out of it. The way out is to finish the move (docs/service.md), but
 * never over another KEK (review 243 item 1): after a whole-folder restore of a backup that held its KEK, the file
 * named may hold the only KEK the folder moved aside opens under.
 */
export const assertNoKekLeftInFolder = (dir: string, kekFile: string): void => {
  const inFolder = secureEnvironmentConfigForDataDir(dir).kek;
  if (inFolder.source !== 'file') return;
  assertNoNextKekLeftInFolder(dir, inFolder.path, kekFile);
  const left = statSync(inFolder.path, { throwIfNoEntry: false });
  const named = statSync(kekFile, { throwIfNoEntry: false });
  if (left !== undefined && !sameFile(left, named)) {
    if (named !== undefined && !kekFilesHoldTheSameKek(inFolder.path, kekFile)) {
      throw refusal(
        'kek_in_folder',
        `names ${kekFile}, but the data folder still holds a KEK, ${inFolder.path}, and ${kekFile} holds another KEK than ${inFolder.path} (or one that cannot be read): never move ${inFolder.path} over it, ` +
          `which may be the only copy of the KEK another folder opens under (one moved aside before a whole-folder restore); keep both: stop the service, move ${inFolder.path} to a new path outside the folder (mode 0600, owned by the account Credence runs as) ` +
          `and name that one with ${KEK_FILE_ENVIRONMENT_VARIABLE}, or unset ${KEK_FILE_ENVIRONMENT_VARIABLE} to keep it in the folder; after a restore from a backup taken before credence kek rotate, rotate it there first (README "Restoring a whole data folder", step 4)`,
      );
    }
    throw refusal(
      'kek_in_folder',
      `names ${kekFile}, but the data folder still holds a KEK, ${inFolder.path}: to move it out, stop the service, move that file to ${kekFile} (mode 0600, owned by the account Credence runs as) and start again; to keep it in the folder, unset ${KEK_FILE_ENVIRONMENT_VARIABLE}`,
    );
  }
  assertNoKekTempLeftInFolder(inFolder.path, kekFile);
};

/**
 * `<data>/secure-environment.kek.next`, the new KEK of a `credence kek rotate` killed before it replaced the KEK
 * (kek-next-file.ts; review 243 item 4): killed after its commit, the only KEK that opens the keys, which only an
 * opening of the folder's own KEK finishes with. Left in the folder, a copy of it holds the live KEK, and the KEK named
 * outside opens nothing (kek_matches_database, which cannot name it). Refused by name, before the KEK left.
 */
const assertNoNextKekLeftInFolder = (dir: string, inFolderKek: string, kekFile: string): void => {
  const next = nextKekFileOf(inFolderKek);
  if (statSync(next, { throwIfNoEntry: false }) === undefined) return;
  throw refusal(
    'kek_in_folder',
    `names ${kekFile}, but the data folder still holds ${next}, the new KEK of a credence kek rotate that ended before it replaced ${inFolderKek} (after its re-seal, the only KEK that opens the keys): ` +
      `stop the service and open the folder once in place, ${KEK_FILE_ENVIRONMENT_VARIABLE} unset and its KEK in it (move it back to ${inFolderKek} first if you moved it out): credence key list --data ${dir} finishes the rotation and removes ${next} ` +
      `(one still there after sealed nothing: credence kek rotate --data ${dir}, run so, removes it); then move ${inFolderKek} out and start again`,
  );
};
/**
 * A temp file of the in-folder KEK's creation that a kill left (`.secure-environment.kek.<pid>.<random>.tmp`, review 59
 * item 2) is a whole KEK: a new one, or, killed between link and unlink, a second name of the KEK moved out since.
 * Opening the folder under its lock removes them (atomic-write-strays.ts); one still here (its folder read-only, its
 * pid running, or the folder opened without the lock) is refused by name, as a KEK left in the folder is.
 */
const assertNoKekTempLeftInFolder = (inFolderKek: string, kekFile: string): void => {
  let names: string[];
  try {
    names = readdirSync(dirname(inFolderKek));
  } catch {
    return; // no folder yet: nothing left in it
  }
  const temps = names.filter((name) => atomicWriteTempOf(name)?.target === basename(inFolderKek)).map((name) => join(dirname(inFolderKek), name));
  if (temps.length === 0) return;
  throw refusal(
    'kek_in_folder',
    `names ${kekFile}, but the data folder still holds a copy of a KEK an interrupted write left, ${temps.join(', ')}: stop the service, make sure ${kekFile} is the KEK (it opens the keys), delete ${temps.length === 1 ? 'that file' : 'those files'} and start again`,
  );
};

/** The nearest folder above `path` that exists: the KEK's folder, or the one its folder will be made in. */
const nearestExistingFolder = (path: string): string => {
  let at = dirname(resolve(path));
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
};

/**
 * The folder of the KEK file `kekFile` (or the nearest one above that exists, where it will be made) when another
 * account than this process's effective uid and root owns it: that account could delete or replace the KEK, whatever
 * the KEK's own owner and mode. Undefined where the platform has no uids, or the folder cannot be read (the opening's
 * own checks name that).
 */
export const kekFolderOfAnotherAccount = (kekFile: string): { readonly folder: string; readonly uid: number } | undefined => {
  const expected = process.geteuid?.();
  if (expected === undefined) return undefined;
  let folder: string;
  let uid: number;
  try {
    folder = nearestExistingFolder(kekFile);
    uid = statSync(folder).uid;
  } catch {
    return undefined;
  }
  return ownedByAnotherAccount(uid, expected) ? { folder, uid } : undefined;
};

/** The system's refusal of a write, in words, for the codes a KEK location can be refused for; else undefined. */
const REFUSED_BECAUSE: Readonly<Record<string, string>> = {
  EROFS: 'is on a read-only file system (EROFS)',
  EACCES: 'is not writable by this account (EACCES)',
  EPERM: 'is not writable by this account (EPERM)',
  ENOSPC: 'has no space left on its file system (ENOSPC)',
  EDQUOT: "is on a file system where this user's disk quota is used up (EDQUOT)",
};

/** The file a KEK location's write check makes (`unwritableBecause`): this process's pid, then a random part. */
const WRITE_CHECK = /^\.credence-kek-write-check\.(\d+)\.[0-9a-f]{12}$/;

/** The refusal in words of a failed write (REFUSED_BECAUSE), undefined for any other error. */
const refusedBecause = (error: unknown): string | undefined => REFUSED_BECAUSE[(error as NodeJS.ErrnoException).code ?? ''];

/**
 * Why nothing can be written in `folder`, in words with the system's code; undefined when it can (or that cannot be
 * told). Found out by writing there (review 377 item 2), not by access(2), which asks of the real uid and knows no
 * capabilities (a uid with CAP_DAC_OVERRIDE writes a root-owned 0700 folder it was refused): a file of this process's
 * own made exclusive, a few bytes written (a full disk refuses those, not an empty file), and removed again.
 * A close that fails counts as the write (review 380 item 1): NFS reports a quota or a full disk it deferred at close,
 * and the probe is removed whatever failed; one a kill left is swept with the KEK's strays (removeKekWriteChecks).
 */
export const unwritableBecause = (folder: string): string | undefined => {
  const probe = join(folder, `.credence-kek-write-check.${process.pid}.${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  let because: string | undefined;
  try {
    fd = openSync(probe, 'wx', 0o600);
    writeSync(fd, Buffer.alloc(64));
  } catch (error) {
    because = refusedBecause(error);
  }
  if (fd !== undefined) {
    try {
      closeSync(fd);
    } catch (error) {
      because ??= refusedBecause(error);
    }
  }
  try {
    unlinkSync(probe);
  } catch {
    // never made, or the folder refuses it: a kill's left one is swept, and nothing more can be done here
  }
  if (because !== undefined) return because;
  let space: { readonly blocks: number; readonly bfree: number; readonly bavail: number };
  try {
    space = statfsSync(folder);
  } catch {
    return undefined; // the write itself says it
  }
  // No blocks at all is a file system that counts none (ramfs: writable, and never swapped, a place for secrets).
  if (space.blocks === 0) return undefined;
  // Root may use the blocks kept back for it (bfree); any other account only those available to all (bavail).
  return (process.geteuid?.() === 0 ? space.bfree : space.bavail) === 0 ? 'has no space left on its file system (ENOSPC)' : undefined;
};

/**
 * The write checks of the KEK `kekFile`'s folder (or of the nearest one above that exists, where the check wrote) that
 * a killed process left (`unwritableBecause` removes its own), removed; their paths. By the rules of the KEK's own
 * strays (atomic-write-strays.ts): five minutes old, and of a process not running here (a pid says nothing across PID
 * namespaces: a check in flight is milliseconds old). Only for a KEK assertKekFileUsable accepts, as those strays are.
 */
export const removeKekWriteChecks = (kekFile: string): string[] => {
  const folder = nearestExistingFolder(kekFile);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    const pid = WRITE_CHECK.exec(name)?.[1];
    if (pid === undefined) continue;
    const path = join(folder, name);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat?.isFile() !== true || now - stat.mtimeMs <= STRAY_AGE_MS) continue;
    if (Number(pid) !== process.pid && isProcessAlive(Number(pid))) continue;
    try {
      unlinkSync(path);
      removed.push(path);
    } catch {
      // gone meanwhile, or the folder is read-only: left for a later sweep
    }
  }
  return removed;
};

/**
 * A KEK file still to be made, refused where its folder (`parent`, or the nearest one above where it will be made) is
 * on a read-only file system, not this account's to write, or full (review 373 item 1): its making was the system's
 * `EROFS … open '….kek.<pid>.<random>.tmp'`, naming the temp file it is written through, not the setting (review 81
 * meant to spare the operator that). An existing KEK is only read (a secret mounted read-only is fine).
 */
const assertKekCanBeMade = (kekFile: string, parent: string): void => {
  const because = unwritableBecause(parent);
  if (because === undefined) return;
  throw refusal('kek_file', `names ${kekFile}, which cannot be made: its folder ${parent} ${because}; name a file where this account may write (it is made there, mode 0600, on first use), or put the KEK there first`);
};

/**
 * The KEK file CREDENCE_KEK_FILE names checked before anything is opened or made, for the data folder `dir` (review
 * 49 item 3): not a folder or other non-file (a raw EISDIR came after an empty key database was made); not inside
 * the data folder, links resolved (a copy of the folder would hold the KEK again, what the setting is for); its
 * folder (or the nearest one above that exists, where it will be made) owned by this account or root and not
 * writable by group or others (anyone who may write there can delete or replace the KEK, whatever its own mode); and
 * an existing KEK read (through one descriptor, kek.ts) as its opening will read it: mode, owner and content. A KEK
 * still to be made is written for (assertKekCanBeMade) unless `probe` is false (review 380 item 2): a lock's sweep,
 * which makes no KEK, only asks whose its folder is, and must write nothing in a folder of secrets.
 */
export const assertKekFileUsable = (kekFile: string, dir: string, { probe = true }: { readonly probe?: boolean } = {}): void => {
  let stat: Stats | undefined;
  try {
    stat = statSync(kekFile, { throwIfNoEntry: false });
  } catch (error) {
    throw refusal('kek_file', `names ${kekFile}, which cannot be read or made (${(error as NodeJS.ErrnoException).code ?? 'error'}): a part of the path above it is a file, or not permitted`);
  }
  if (stat !== undefined && !stat.isFile()) {
    throw refusal('kek_file', `names ${kekFile}, which is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}: name the KEK file itself (it is made there, mode 0600, when missing)`);
  }
  const kek = resolvedAsFarAsItExists(kekFile);
  const folder = resolvedAsFarAsItExists(dir);
  if (kek === folder || kek.startsWith(`${folder}${sep}`)) {
    throw refusal(
      'kek_outside_folder',
      `names ${kekFile}, inside the data folder ${dir}: a copy of the folder would hold the KEK again; name a file outside the folder, or unset ${KEK_FILE_ENVIRONMENT_VARIABLE} to keep the KEK in it`,
    );
  }
  const parent = nearestExistingFolder(kekFile);
  const parentStat = statSync(parent);
  const uid = process.geteuid?.();
  const foreign = kekFolderOfAnotherAccount(kekFile);
  if (foreign !== undefined && uid !== undefined) {
    throw refusal('owner', `names ${kekFile}: its folder ${foreignSecretFolderMessage(foreign.folder, foreign.uid, uid)}`);
  }
  // No sticky exception, unlike a pinned key's folders (trusted-file.ts): a KEK is kept in a private folder.
  if (uid !== undefined && writableByGroupOrOthers(parentStat.mode)) {
    const mode = (parentStat.mode & 0o7777).toString(8).padStart(3, '0');
    throw refusal('private_folder', `names ${kekFile}, whose folder ${parent} is writable by group or others (mode ${mode}): anyone who may write there can delete or replace the KEK; run chmod 700 ${parent}, or keep the KEK in a private folder`);
  }
  if (stat === undefined) return probe ? assertKekCanBeMade(kekFile, parent) : undefined;
  try {
    checkKekFile(kekFile);
  } catch (error) {
    // The setting the file came from, not the embedded configuration's field the service filled in.
    if (isCredenceError(error) && error.problem.code === 'validation') throw refusal(error.problem.issues[0]?.rule ?? 'key_file', error.problem.issues.map((i) => i.message).join('; '));
    throw error;
  }
};
