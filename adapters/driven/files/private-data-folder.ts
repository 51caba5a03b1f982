import { chmodSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { assertOwnedByProcess, DATA_DIR_MODE, DATA_FILE_MODE, openToGroupOrOthers } from './private-files.ts';

/** Where the demo keeps each device's folder (its Secure Environment and device.json): `devices/<node id>/`. */
export const DEVICES_DIR = 'devices';

// Windows has no POSIX permission bits (private-files.ts).
const POSIX = process.platform !== 'win32';
// As the walk for other accounts' files (private-files.ts): a demo folder holds some dozens of entries under devices/.
const MAX_WALKED_ENTRIES = 10_000;
const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = constants;

const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/**
 * Makes the file or folder at `path`, found as `seen` (lstat), private (0600, a folder 0700) if group or others may
 * use it: through a descriptor opened without following a link, so a path swapped for a link since it was looked at
 * changes nothing outside the folder (O_NONBLOCK: a FIFO put in its place does not block the open). One of another
 * account is refused (rule `owner`), as the lock's walk refuses it before this runs: it changed owner meanwhile.
 */
const tighten = (path: string, seen: Stats, followLink = false): void => {
  const folder = seen.isDirectory();
  const limit = folder ? DATA_DIR_MODE : DATA_FILE_MODE;
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | (followLink ? 0 : O_NOFOLLOW) | (folder ? O_DIRECTORY : O_NONBLOCK));
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENXIO') return; // gone, or no longer what was seen
    if (code !== 'EACCES') throw error;
    // One its owner may not read (0244): by its path. Its folder was made private first, so only this account could
    // have swapped it for a link since the lstat.
    assertOwnedByProcess(path, seen, 'data', 'data file');
    if (openToGroupOrOthers(seen.mode)) chmodSync(path, seen.mode & limit);
    return;
  }
  try {
    const stat = fstatSync(fd);
    if (stat.dev !== seen.dev || stat.ino !== seen.ino) return; // replaced since the lstat: not what was seen
    assertOwnedByProcess(path, stat, 'data', 'data file');
    if (openToGroupOrOthers(stat.mode)) fchmodSync(fd, stat.mode & limit);
  } finally {
    closeSync(fd);
  }
};

/**
 * Everything under `dir` (a folder already made private), bounded: each folder made private before what it holds is
 * listed, a link neither followed nor changed, and anything but a file or a folder (a socket, a FIFO) left alone.
 */
const tightenUnder = (dir: string, budget: { left: number }): void => {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return; // one its owner may not list: nothing in it can be reached, by this process or another account
  }
  for (const name of names) {
    if (budget.left-- <= 0) return;
    const path = join(dir, name);
    const seen = lstatSync(path, { throwIfNoEntry: false });
    if (seen === undefined || !(seen.isFile() || seen.isDirectory())) continue;
    tighten(path, seen);
    if (seen.isDirectory()) tightenUnder(path, budget);
  }
};

/**
 * README's "mode 0700, every file in it 0600, a copy a restore left readable by others tightened" for what the
 * databases' own openings do not tighten (review 198: a restore left the folder 0755 and the demo devices' KEKs and
 * key databases under devices/ 0644): the data folder itself 0700 (reached through a link if it is one, as every
 * opening of it is), and everything under `devices/` 0700 (folders) or 0600 (files); a `devices` that is a link is
 * not entered. Nothing else in the folder: its databases are tightened as each is opened, and some of its files are
 * public by design (transparency.pub). Run with the folder's lock held, after the lock's walk refused every path of
 * another account in it.
 */
export const tightenDataFolder = (dir: string): void => {
  if (!POSIX) return;
  tighten(dir, statSync(dir), true);
  const devices = join(dir, DEVICES_DIR);
  const seen = lstatSync(devices, { throwIfNoEntry: false });
  if (seen === undefined || !seen.isDirectory()) return;
  tighten(devices, seen);
  tightenUnder(devices, { left: MAX_WALKED_ENTRIES });
};
