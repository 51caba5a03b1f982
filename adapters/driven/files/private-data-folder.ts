import { chmodSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { validationError } from '../../../domain/errors.ts';
import { assertOwnedByProcess, DATA_DIR_MODE, DATA_FILE_MODE, MAX_NAMED_FOREIGN_PATHS, openToGroupOrOthers } from './private-files.ts';

/** Where the demo keeps each device's folder (its Secure Environment and device.json): `devices/<node id>/`. */
export const DEVICES_DIR = 'devices';

// Windows has no POSIX permission bits (private-files.ts).
const POSIX = process.platform !== 'win32';
// As the walk for other accounts' files (private-files.ts): a demo folder holds some dozens of entries under devices/.
const MAX_WALKED_ENTRIES = 10_000;
const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = constants;

const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** What one tightening of the folder left as it was: said once the walk is over (tightenDataFolder). */
interface Leftovers {
  /** Open to group or others, and the system would not change that (review 202): with their modes. */
  readonly unchangeable: { readonly path: string; readonly mode: number; readonly folder: boolean }[];
  /** Files with another name somewhere (a hard link), maybe outside the folder: not the folder's to change (review 202). */
  readonly linked: string[];
}

/**
 * `change`, the chmod of `path`, noted in `left` where the system refuses it: a file system that keeps no modes (vfat,
 * exFAT, a CIFS mount) or an immutable file (chattr +i) say EPERM (a read-only mount EROFS). Any other failure is thrown.
 */
const changeMode = (path: string, mode: number, folder: boolean, left: Leftovers, change: () => void): void => {
  try {
    change();
  } catch (error) {
    const code = codeOf(error);
    if (code !== 'EPERM' && code !== 'EROFS') throw error;
    left.unchangeable.push({ path, mode, folder });
  }
};

/**
 * Makes the file or folder at `path`, found as `seen` (lstat), private (0600, a folder 0700) if group or others may
 * use it: through a descriptor opened without following a link, so a path swapped for a link since it was looked at
 * changes nothing outside the folder (O_NONBLOCK: a FIFO put in its place does not block the open). One of another
 * account is refused (rule `owner`), as the lock's walk refuses it before this runs: it changed owner meanwhile.
 */
const tighten = (path: string, seen: Stats, left: Leftovers, followLink = false): void => {
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
    if (!openToGroupOrOthers(seen.mode)) return;
    if (!folder && seen.nlink > 1) return void left.linked.push(path);
    changeMode(path, seen.mode, folder, left, () => chmodSync(path, seen.mode & limit));
    return;
  }
  try {
    const stat = fstatSync(fd);
    if (stat.dev !== seen.dev || stat.ino !== seen.ino) return; // replaced since the lstat: not what was seen
    assertOwnedByProcess(path, stat, 'data', 'data file');
    if (!openToGroupOrOthers(stat.mode)) return;
    // A hard link changes the mode of every name of the file, one outside the folder too: O_NOFOLLOW stops symbolic
    // links only (review 202). Left as it is, and named.
    if (stat.isFile() && stat.nlink > 1) return void left.linked.push(path);
    changeMode(path, stat.mode, folder, left, () => fchmodSync(fd, stat.mode & limit));
  } finally {
    closeSync(fd);
  }
};

/**
 * Everything under `dir` (a folder already made private), bounded: each folder made private before what it holds is
 * listed, a link neither followed nor changed, and anything but a file or a folder (a socket, a FIFO) left alone.
 */
const tightenUnder = (dir: string, budget: { left: number }, left: Leftovers): void => {
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
    tighten(path, seen, left);
    if (seen.isDirectory()) tightenUnder(path, budget, left);
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
 * A file with another name (a hard link) is left as it is, with a warning naming it. What the system would not make
 * private is refused, every path named in one refusal, as the lock refuses paths of another account (review 202: a
 * bare EPERM, naming none); what was made private before stays so: the modes README promises, never less private.
 */
export const tightenDataFolder = (dir: string): void => {
  if (!POSIX) return;
  const left: Leftovers = { unchangeable: [], linked: [] };
  tighten(dir, statSync(dir), left, true);
  const devices = join(dir, DEVICES_DIR);
  const seen = lstatSync(devices, { throwIfNoEntry: false });
  if (seen !== undefined && seen.isDirectory()) {
    tighten(devices, seen, left);
    tightenUnder(devices, { left: MAX_WALKED_ENTRIES }, left);
  }
  sayLeftovers(dir, left);
};

/** Names quoted as JSON: a file name's control characters reach no terminal. */
const named = (paths: readonly string[]): string =>
  `${paths.slice(0, MAX_NAMED_FOREIGN_PATHS).map((p) => JSON.stringify(p)).join(', ')}${paths.length > MAX_NAMED_FOREIGN_PATHS ? ` and ${paths.length - MAX_NAMED_FOREIGN_PATHS} more` : ''}`;

const sayLeftovers = (dir: string, { unchangeable, linked }: Leftovers): void => {
  if (linked.length > 0) {
    process.emitWarning(
      `left as they are, readable by group or others: ${named(linked)} under ${JSON.stringify(dir)}: each has another name (a hard link), perhaps outside the data folder, whose mode would change too; replace each with a copy of its own (cp, then mv over it), and the next command that takes the folder's lock makes it private`,
      { code: 'CREDENCE_DATA_FILE_HARD_LINK' },
    );
  }
  if (unchangeable.length === 0) return;
  const list = unchangeable.slice(0, MAX_NAMED_FOREIGN_PATHS).map((u) => `${u.path} (mode ${(u.mode & 0o777).toString(8)}${u.folder ? ', a folder' : ''})`);
  const rest = unchangeable.length - list.length;
  throw validationError(
    [
      {
        path: 'data',
        rule: 'private_mode',
        message: `${list.join(', ')}${rest > 0 ? ` and ${rest} more` : ''} ${unchangeable.length === 1 ? 'is' : 'are'} readable or writable by group or others and the system would not make ${unchangeable.length === 1 ? 'it' : 'them'} private (an immutable file, chattr +i; or a file system that keeps no modes, vfat, exFAT or CIFS); run chmod 600 on each file (chmod 700 on a folder), after chattr -i if it is immutable, or move it out of ${dir}; keep the data folder on a file system that keeps modes. The rest of ${dir} was made private meanwhile (0700, files under devices/ 0600), as README says it is`,
      },
    ],
    'data folder',
  );
};
