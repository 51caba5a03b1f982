import { lstatSync, readdirSync, rmdirSync, rmSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/**
 * What a refused command's discard of a folder lock removes (data-folder-lock.ts): a folder it made, with all it holds
 * (`removeMade`), or, from a folder that was there, what it added (`addedTakenAway`). The lock's file names arrive as
 * arguments: data-folder-lock.ts names them and imports this file.
 */

/** A folder lock as the sweep sees it: `DataFolderLock` (data-folder-lock.ts). */
interface DiscardableLock {
  release(): void;
  discard(): void;
}

/** The lock's own files, and the holder file's temps: the lock's to remove (its discard), never a sweep's. */
const isLockFile = (name: string, ownFiles: readonly string[]): boolean => ownFiles.some((file) => name.startsWith(file));

/**
 * Whether `name` is a file or folder a credence command keeps in a data folder: its SQLite databases (events.db,
 * keys.db, access.db, readmodels.db, transparency.db and their journals), the embedded Secure Environment's files and
 * KEK, the transparency log key's, first-event.json, the replay checkpoint, pki/ and devices/. Named here, not imported:
 * this file utility imports no driven adapter (.dependency-cruiser.cjs). A name missing here only makes a sweep
 * possible where none was made before, in a folder that holds none of the others.
 */
const isDataFolderFile = (name: string): boolean =>
  /\.db(?:-journal|-wal|-shm)?$/.test(name) ||
  name.startsWith('secure-environment.') ||
  name.startsWith('transparency.') ||
  ['first-event.json', 'replay-checkpoint.json', 'pki', 'devices'].includes(name);

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
  lock: DiscardableLock, dir: string, ownFiles: readonly string[], folderLockFiles: readonly string[],
): DiscardableLock => {
  const found = readdirSync(dir);
  if (found.some((name) => !isLockFile(name, ownFiles) && isDataFolderFile(name))) return lock;
  const held = new Set(found);
  // The folder as found, so that discard sweeps that folder and nothing put in its place since (a link to another).
  const foundAs = lstatSync(dir);
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
        if (!sameFolder(dir, foundAs)) return;
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          // Only what a credence command makes: another process of this account writing here meanwhile keeps its own.
          if (held.has(entry.name) || isLockFile(entry.name, ownFiles) || !isDataFolderFile(entry.name)) continue;
          const path = join(dir, entry.name);
          if (!entry.isDirectory()) rmSync(path, { force: true });
          else if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === true) removeMade(path, false, folderLockFiles);
        }
      } finally {
        lock.discard();
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
 */
export const removeMade = (dir: string, top: boolean, folderLockFiles: readonly string[]): boolean => {
  const entries = readdirSync(dir, { withFileTypes: true });
  if (!top && entries.some((entry) => folderLockFiles.includes(entry.name))) return false;
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
