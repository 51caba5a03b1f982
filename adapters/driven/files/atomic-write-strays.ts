import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteTempOf } from './atomic-write.ts';
import { isProcessAlive } from './process-alive.ts';

/**
 * Whether a temp file of process `pid` is a stray: this process has no write in flight (writeFileAtomic is synchronous
 * and none runs during the sweep), so its own pid's is a dead run's (pid 1 again in a restarted container); another
 * pid's is one while that process does not run. A process that runs may be writing it: `credence replay` writes its
 * checkpoint into the folder without the lock. A live pid reused by an unrelated process keeps a stray until then.
 */
const isStrayOf = (pid: number): boolean => pid === process.pid || !isProcessAlive(pid);

/**
 * Removes the temp files interrupted writeFileAtomic calls left (a kill between writing and renaming or unlinking
 * them) in `dir` and in each of its `subfolders`: regular files named by ATOMIC_WRITE_TEMP, never anything else (a
 * folder or link so named, a name that only looks alike). Unless they are removed they stay forever, and a KEK's is a
 * whole KEK in a folder that is copied and backed up. The names removed, relative to `dir`.
 *
 * Only for the holder of the folder's lock, just after it is taken: every process that writes the folder's keys, CA
 * files and lock (a service, `ca init`, `key destroy`, `projections`, `verify --repair-nodes`) writes only while it
 * holds that lock, so none of their temp files is in flight; a file of a process that writes without it is kept while
 * that process runs (isStrayOf). A subfolder that is a link is left alone (its files are not only this folder's). A
 * file that cannot be removed is left: a KEK's is then refused by the KEK checks (kek-file.ts).
 */
export const removeAtomicWriteStrays = (dir: string, subfolders: readonly string[]): string[] => {
  const removed: string[] = [];
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
      if (!entry.isFile() || temp === undefined || !isStrayOf(temp.pid)) continue;
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
