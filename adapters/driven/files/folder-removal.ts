import { lstatSync, readdirSync, rmdirSync, rmSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ATOMIC_WRITE_TEMP } from './atomic-write.ts';
import { EMBEDDED_SE_DATABASE_FILE, EMBEDDED_SE_WRAPPING_KEYS_FILE, IN_FOLDER_KEK_FILE } from './embedded-secure-environment-files.ts';
import { DEVICES_DIR } from './private-data-folder.ts';

/**
 * What a refused command's discard of a folder lock removes (data-folder-lock.ts): a folder it made, with all it holds
 * (`removeMade`), or, from a folder that was there, what it added (`addedTakenAway`). The lock's file names arrive as
 * arguments: data-folder-lock.ts names them and imports this file.
 */

/** A folder lock as the sweep sees it: `DataFolderLock` (data-folder-lock.ts). */
export interface DiscardableLock {
  release(): void;
  discard(): void;
}

/** The lock's own files, and the holder file's temps: the lock's to remove (its discard), never a sweep's. */
const isLockFile = (name: string, ownFiles: readonly string[]): boolean => ownFiles.some((file) => name.startsWith(file));

/** A SQLite database's file and the journals SQLite makes beside it. */
const withJournals = (databases: readonly string[]): string[] => databases.flatMap((db) => ['', '-wal', '-shm', '-journal'].map((side) => `${db}${side}`));

/** The embedded Secure Environment's files, in a data folder and in a device's folder alike. */
const SECURE_ENVIRONMENT_FILES = [...withJournals([EMBEDDED_SE_DATABASE_FILE]), EMBEDDED_SE_WRAPPING_KEYS_FILE, IN_FOLDER_KEK_FILE];

/**
 * The files a credence command makes in a data folder, by their exact names (review 377: any `*.db`, `pki` or
 * `devices` added since the lock was taken was swept, another program's too): its SQLite databases (every one a start
 * opens: events.db, keys.db, access.db, readmodels.db, transparency.db, replay-cache.db) with their journals, the
 * embedded Secure Environment's files, the transparency log key's, first-event.json and the replay checkpoint. Named
 * here, not imported from their adapters: this file utility imports no driven adapter (.dependency-cruiser.cjs). A name
 * missing here is left behind by a sweep, never someone else's file taken.
 */
const DATA_FOLDER_FILES: ReadonlySet<string> = new Set([
  ...withJournals(['events.db', 'keys.db', 'access.db', 'readmodels.db', 'transparency.db', 'replay-cache.db']),
  ...SECURE_ENVIRONMENT_FILES,
  'transparency.handle',
  'transparency.key',
  'transparency.pub',
  'first-event.json',
  'replay-checkpoint.json',
]);

/** The PKI's folder (ca-file.ts PKI_DIR) and its files, each `<ca>.<what>` (ca-file.ts, ocsp-signing-key.ts, crl-*.ts, ...). */
const PKI_DIR = 'pki';
const PKI_FILE = /^.+\.(?:ca\.json|ocsp\.json|crl-number\.json|crl-expiry\.json|crl-base\.json|crl-complete-until\.json|published\.jsonl|issued\.jsonl)$/;

/** A device's folder under devices/ (bin/commands/device): its state, lock, pending init and Secure Environment. */
const DEVICE_FOLDER_FILES: ReadonlySet<string> = new Set([
  ...SECURE_ENVIRONMENT_FILES,
  'device.json',
  'device.lock',
  ...withJournals(['device-lock.db']),
  'device-init.pending.json',
]);

/** `name`, or the temp writeFileAtomic leaves beside it (ATOMIC_WRITE_TEMP), is one `ours` names. */
const madeAs = (name: string, ours: (name: string) => boolean): boolean => {
  if (ours(name)) return true;
  const temp = ATOMIC_WRITE_TEMP.exec(name);
  return temp?.[1] !== undefined && ours(temp[1]);
};

/** How deep a device's folder may sit under devices/ and still be swept. */
const MAX_DEVICE_DEPTH = 3;

/**
 * Whether the folder at `path` holds nothing but files `ours` names (at any depth, folders below within `depth`): a
 * link, a folder too deep, or any other file, and it is not Credence's alone.
 */
const holdsOnly = (path: string, ours: (name: string) => boolean, depth: number): boolean =>
  readdirSync(path, { withFileTypes: true }).every((entry) =>
    entry.isDirectory() ? depth > 0 && holdsOnly(join(path, entry.name), ours, depth - 1) : entry.isFile() && madeAs(entry.name, ours),
  );

/** Whether the added folder `name` at `path` is pki/ or devices/ holding only what Credence makes in it. */
const isOwnFolder = (name: string, path: string): boolean => {
  if (name === PKI_DIR) return holdsOnly(path, (file) => PKI_FILE.test(file), 0);
  if (name === DEVICES_DIR) {
    // Only devices' folders in it, no file of its own.
    return readdirSync(path, { withFileTypes: true }).every(
      (entry) => entry.isDirectory() && holdsOnly(join(path, entry.name), (file) => DEVICE_FOLDER_FILES.has(file), MAX_DEVICE_DEPTH - 1),
    );
  }
  return false;
};

/** Whether a folder holding `name` when its lock was taken held a data folder's files (pki/ and devices/ whatever they held). */
const isDataFolderSign = (name: string): boolean => DATA_FOLDER_FILES.has(name) || name === PKI_DIR || name === DEVICES_DIR;

/**
 * The lock of a folder that existed when it was taken (review 373: a container volume or systemd's StateDirectory is
 * there, empty, before the first start): when the folder held nothing of a data folder's then (only the lock's own
 * files, and whatever the operator keeps there, such as lost+found), `discard` first removes what was added to it
 * since (while still holding it), so a refused start leaves it as it found it and the next is not refused as a folder
 * served before. What the folder held stays, as does a folder added that holds a lock of its own (`removeMade`). A
 * folder that held any of a data folder's files keeps everything: what a start added beside a served store is never
 * sorted into ours and theirs.
 */
export const addedTakenAway = (
  lock: DiscardableLock,
  dir: string,
  ownFiles: readonly string[],
  folderLockFiles: readonly string[],
  whileNoOtherWrites: (sweep: () => void) => void = (sweep) => sweep(),
): DiscardableLock => {
  const found = readdirSync(dir);
  if (found.some((name) => !isLockFile(name, ownFiles) && isDataFolderSign(name))) return lock;
  const held = new Set(found);
  const takenAt = Date.now();
  return sweptOnDiscard(
    lock,
    dir,
    () =>
      // Review 410: run only while no other process writes the folder under a lock of its own that the caller knows
      // (a local token command's key-making lock, held from before this lock was taken: nothing swept while it is).
      whileNoOtherWrites(() => {
        // Another process's lock made or held here since (review 399: a local token command writes access.db and the
        // Secure Environment under its key-making lock alone, touching it as it takes it and as it lets go): what was
        // added is not all this holder's, and nothing is swept.
        if (lockedSince(dir, folderLockFiles.filter((name) => !isLockFile(name, ownFiles)), held, takenAt)) return;
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          // Only what a credence command makes, by its exact name: another process of this account writing here
          // meanwhile keeps its own (review 377), pki/ and devices/ too unless they hold nothing but ours.
          if (held.has(entry.name) || isLockFile(entry.name, ownFiles)) continue;
          const path = join(dir, entry.name);
          if (!entry.isDirectory()) {
            if (madeAs(entry.name, (name) => DATA_FOLDER_FILES.has(name))) rmSync(path, { force: true });
          } else if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === true && isOwnFolder(entry.name, path)) {
            removeMade(path, false, folderLockFiles);
          }
        }
      }),
    (taken) => taken.discard(),
  );
};

/** Whether any of `lockFiles` in `dir` was made since `held` was listed, or was written or touched since `since`. */
const lockedSince = (dir: string, lockFiles: readonly string[], held: ReadonlySet<string>, since: number): boolean =>
  lockFiles.some((name) => {
    const stat = lstatSync(join(dir, name), { throwIfNoEntry: false });
    return stat !== undefined && (!held.has(name) || stat.mtimeMs >= since);
  });

/**
 * `lock`, whose `discard` first runs `sweep` on `dir` (while still holding it: no other process holds it or can take
 * it meanwhile), then `letGo`; once: a lock released or discarded is done. `dir` as it is now, so that a discard
 * sweeps that folder and nothing put in its place since (a link to another).
 */
export const sweptOnDiscard = <L extends DiscardableLock>(lock: L, dir: string, sweep: () => void, letGo: (lock: L) => void): DiscardableLock => {
  const as = lstatSync(dir);
  let done = false;
  return {
    release() {
      done = true;
      lock.release();
    },
    discard() {
      if (done) return;
      done = true;
      try {
        if (sameFolder(dir, as)) sweep();
      } finally {
        letGo(lock);
      }
    },
  };
};

/** Whether `path` is still the very folder `was` describes (not a link, nor another folder put in its place). */
export const sameFolder = (path: string, was: Stats): boolean => {
  try {
    const now = lstatSync(path);
    return now.isDirectory() && now.dev === was.dev && now.ino === was.ino;
  } catch {
    return false;
  }
};

/**
 * Removes `dir` with what it holds, except any folder in it that holds a lock of its own (found in review: a service
 * started with `--data x/y` while a refused `--data x` was being undone lost its files): that folder, and the folders
 * above it up to `dir`, stay. False when something stayed. Below the top, a lock file is never removed: seeing one in
 * the listing keeps its folder, so a lock taken after the listing was made is not removed either, and its folder,
 * no longer empty, stays. A symbolic link is removed, not followed; a subfolder is entered only while it is a folder.
 * At the top, any of `keptAtTopBy` there keeps the folder and all it holds (false: the caller removes its own files).
 */
export const removeMade = (dir: string, top: boolean, folderLockFiles: readonly string[], keptAtTopBy: readonly string[] = []): boolean => {
  const entries = readdirSync(dir, { withFileTypes: true });
  // `keptAtTopBy`: lock files of other processes that write the folder itself (review 410: a local token command's
  // key-making lock): one at the top keeps everything, decided on the very listing that would be removed.
  if (entries.some((entry) => (top ? keptAtTopBy : folderLockFiles).includes(entry.name))) return false;
  let kept = false;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (!entry.isDirectory()) rmSync(path, { force: true });
    else if (!lstatSync(path, { throwIfNoEntry: false })?.isDirectory() || !removeMade(path, false, folderLockFiles)) kept = true;
  }
  if (kept) return false;
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    // Something was put in it meanwhile (a lock taken, a file made): it stays.
    if (['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
};
