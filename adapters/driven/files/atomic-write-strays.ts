import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteTempOf } from './atomic-write.ts';
import { isProcessAlive } from './process-alive.ts';

/**
 * How long a temp file is left before it may be taken for a stray: five minutes. writeFileAtomic writes its temp in
 * one go (create, write, fsync, rename: milliseconds, seconds on a slow disk) and every write sets its mtime, so a
 * write in flight has touched it within that; a dead run's is older by then.
 */
export const STRAY_AGE_MS = 5 * 60_000;

/**
 * Whether the temp file at `path`, of process `pid`, is a stray: five minutes old (STRAY_AGE_MS), and its process
 * not running here, or this very process (which has no write in flight: writeFileAtomic is synchronous and none
 * runs during the sweep). The age is asked of every temp, since a pid says nothing across PID namespaces: two
 * containers on one volume, each with its pid 1 or 57, look like this process or a dead one here while they write
 * (review 62; every writer of the folder holds its lock, `credence replay` too, but only for its write). A running pid keeps
 * its temp however old (it may be writing; a live pid reused by an unrelated process keeps a stray until then); an
 * mtime in the future (another host's clock) keeps it. The price: a temp a kill left is removed by the first opening
 * five minutes after it, a KEK's meanwhile refused by name (kek-file.ts).
 */
const isStray = (path: string, pid: number, now: number): boolean => {
  const modified = lstatSync(path, { throwIfNoEntry: false })?.mtimeMs;
  if (modified === undefined || now - modified <= STRAY_AGE_MS) return false;
  return pid === process.pid || !isProcessAlive(pid);
};

/**
 * Removes the temp files interrupted writeFileAtomic calls left (a kill between writing and renaming or unlinking
 * them) in `dir` and in each of its `subfolders`: regular files named by ATOMIC_WRITE_TEMP, never anything else (a
 * folder or link so named, a name that only looks alike); with `onlyOf`, only the temps of the file of that name in
 * `dir` (a KEK kept outside the data folder, whose folder may hold other files that are not Credence's to remove).
 * Unless they are removed they stay forever, and a KEK's is a whole KEK in a folder that is copied and backed up. The
 * names removed, relative to `dir`.
 *
 * Only for the holder of the folder's lock, just after it is taken: every process that writes the folder's keys, CA
 * files and lock (a service, `ca init`, `key destroy`, `projections`, `verify --repair-nodes`) writes only while it
 * holds that lock, so none of their temp files is in flight; a file of a process that writes without it is kept while
 * that process runs, and any while it is new (isStray). A subfolder that is a link is left alone (its files are not
 * only this folder's). A file that cannot be removed is left: a KEK's is then refused by the KEK checks (kek-file.ts).
 */
export const removeAtomicWriteStrays = (dir: string, subfolders: readonly string[], onlyOf?: string): string[] => {
  const removed: string[] = [];
  const now = Date.now();
  for (const folder of ['', ...subfolders]) {
    const path = join(dir, folder);
    let entries;
    try {
      if (folder !== '' && lstatSync(path, { throwIfNoEntry: false })?.isDirectory() !== true) continue;
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      continue; // unreadable: what it holds is left, as a file that cannot be removed is
    }
    for (const entry of entries) {
      const temp = atomicWriteTempOf(entry.name);
      if (!entry.isFile() || temp === undefined || (onlyOf !== undefined && temp.target !== onlyOf)) continue;
      if (!isStray(join(path, entry.name), temp.pid, now)) continue;
      try {
        unlinkSync(join(path, entry.name));
        removed.push(folder === '' ? entry.name : join(folder, entry.name));
      } catch {
        // gone meanwhile, or the folder is read-only: left, see above
      }
    }
  }
  return removed;
};
