import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/*
 * A file whose content decides what is trusted (a pinned log verifier key, the request-signing policy of SER-016):
 * whoever may write it, or put another file in its place, chooses the key a forged bundle or a forged request is held
 * to (reviews 81 and 85). The rules are OpenSSH's for its own such files (safe_path, auth.c): the file a link leads
 * to (realpath) and every folder above it up to / owned by this account or root and not writable by group or others.
 * One exception: a sticky folder such as /tmp, where no one but a file's (or folder's) owner may rename or remove it.
 * Read-only for others is fine: the content is public. The path as given is held to the same rules (review 194): a
 * link on the way is a name someone may re-point, so the folder it is in counts as much as the real path's.
 */

const POSIX = process.platform !== 'win32';
const STICKY = 0o1000;

/** Whether an account other than `self` (this process's effective uid) and root owns what `uid` owns: it could replace it. */
export const ownedByAnotherAccount = (uid: number, self: number): boolean => uid !== self && uid !== 0;

/** Whether group or others may write what has `mode` (for a folder: make, rename or remove the names in it). */
export const writableByGroupOrOthers = (mode: number): boolean => (mode & 0o022) !== 0;

/** The mode as `stat -c %a` and `ls` say it: with its setuid, setgid and sticky bits (a folder's 2775, not 0775). */
const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

const notRegularFile = (named: string, stat: Stats): string | undefined =>
  stat.isFile() ? undefined : `${named} is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}: name the file itself`;

/** A trusted file's own rule: another account's (root aside), or one others may write, is refused. */
const trustedFileRule = (named: string, file: string, stat: Stats, self: number): string | undefined => {
  if (ownedByAnotherAccount(stat.uid, self)) return `${named} is owned by uid ${stat.uid}, not by this account (uid ${self}) or root: that account chooses what it trusts; chown it, or copy it to a file of yours`;
  if (writableByGroupOrOthers(stat.mode)) return `${named} may be written by group or others (mode ${octal(stat.mode)}): they choose what it trusts; chmod go-w ${file}`;
  return undefined;
};

/**
 * How `withTrustedFile` holds one kind of file, beyond its folders (which are always held to the rules above).
 * `fileRule`: the owner and mode rule of the file itself (its fstat), said in the words of what it holds: a secret
 * (a bearer token, a signing key) is refused by rules of its own (another account's, root's too; one others may read).
 * It may throw a typed error of its own, which passes unchanged. `pipe`: a FIFO is let through to `read`, its folders
 * checked as a file's (a named one, or a pipe of the shell's `<(…)` under /dev/fd, which has no real path): `read` is
 * then to bound its wait (readWaitingForPipe), the descriptor being opened without blocking.
 */
export interface TrustedFileRules {
  readonly fileRule?: (named: string, file: string, stat: Stats, self: number) => string | undefined;
  readonly pipe?: boolean;
}

/** What is wrong with the open file `named` (its fstat): not a regular file (nor a pipe `rules` lets by), or its rule's. */
const fileProblem = (named: string, file: string, stat: Stats, self: number, rules: TrustedFileRules): string | undefined => {
  const notFile = rules.pipe === true && stat.isFIFO() ? undefined : notRegularFile(named, stat);
  if (notFile !== undefined) return notFile;
  return (rules.fileRule ?? trustedFileRule)(named, file, stat, self);
};

/** Where else the file may be named, said with the rule a folder fails: `owned` for another account's, `writable`. */
interface Elsewhere {
  readonly owned: string;
  readonly writable: string;
}

const MOVE_THE_FILE: Elsewhere = { owned: 'move the file to a folder of yours', writable: 'move the file' };
const ANOTHER_PATH: Elsewhere = { owned: 'name the file by a path through folders of yours', writable: 'name the file by a path outside it' };

/** Why `folder` (its lstat) lets another account put another name in place of one in it; undefined if it does not. */
const folderRule = (folder: string, stat: Stats, self: number, elsewhere: Elsewhere): string | undefined => {
  if (ownedByAnotherAccount(stat.uid, self)) {
    return `owned by uid ${stat.uid}, not by this account (uid ${self}) or root: that account may put another file in its place; chown ${self} ${folder}, or ${elsewhere.owned}`;
  }
  if (writableByGroupOrOthers(stat.mode) && (stat.mode & STICKY) === 0) {
    return `which group or others may write (mode ${octal(stat.mode)}): they may put another file in its place; chmod go-w ${folder}, or ${elsewhere.writable}`;
  }
  return undefined;
};

/**
 * What is wrong with the folders above the real path `real`, up to /: one that is not a folder (a link put in since
 * realpath), of another account, or that group or others may write without the sticky bit. Not followed: lstat.
 */
const foldersProblem = (named: string, real: string, self: number): string | undefined => {
  for (let folder = dirname(real); ; folder = dirname(folder)) {
    const where = folder === dirname(real) ? 'is in' : 'is under';
    let stat: Stats;
    try {
      stat = lstatSync(folder);
    } catch (error) {
      return `${named} ${where} ${folder}, which cannot be checked (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (!stat.isDirectory()) return `${named} ${where} ${folder}, which changed while it was checked (no longer a folder): try again`;
    const rule = folderRule(folder, stat, self, MOVE_THE_FILE);
    if (rule !== undefined) return `${named} ${where} ${folder}, ${rule}`;
    if (dirname(folder) === folder) return undefined;
  }
};

/** Links followed in one path before the system gives up (Linux's MAXSYMLINKS; ELOOP past it). */
const MAX_LINKS = 40;

/**
 * One step of a path's lookup (walkAsLookedUp): a name looked up in `folder` (a real path: no link in it; its lstat
 * `inFolder`), the `entry` it makes, its lstat, and a link's `target`; or an entry that cannot be lstat-ed (missing,
 * not permitted), or more than MAX_LINKS links met. Either of the last two ends the walk.
 */
export type LookupStep =
  | { readonly kind: 'name'; readonly folder: string; readonly inFolder: Stats; readonly entry: string; readonly stat: Stats; readonly target: string | undefined }
  | { readonly kind: 'unreadable'; readonly entry: string; readonly error: NodeJS.ErrnoException }
  | { readonly kind: 'too_many_links' };

/**
 * `given` as the system looks it up, each step handed to `visit` until it answers (what the walk returns) or the walk
 * ends: name by name from / (a relative path from the working folder), a link met replaced by what it names, its
 * target's names looked up in turn from the link's folder (review 304: a link to another link, or to a path through
 * one, is met too). `..` goes up from the folder reached, the links before it followed, as the system goes (review 307:
 * path.resolve, as Node's JS realpathSync, dropped the name before it as text, so in `F/../z` a link `F` went unseen
 * and its owner chose the folder unchecked). A link's step comes before the count of links that ends a loop. POSIX
 * paths: where the platform has no uids, the callers do not walk.
 */
export const walkAsLookedUp = <T>(given: string, visit: (step: LookupStep) => T | undefined): T | undefined => {
  const pending = (given.startsWith('/') ? given : `${process.cwd()}/${given}`).split('/');
  let folder = '/'; // a real path: every name in it looked up, none a link
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      folder = dirname(folder); // already looked up on the way down: its steps were visited
      continue;
    }
    const entry = join(folder, name);
    let inFolder: Stats;
    let stat: Stats;
    let target: string | undefined;
    try {
      inFolder = lstatSync(folder);
      stat = lstatSync(entry);
      target = stat.isSymbolicLink() ? readlinkSync(entry) : undefined;
    } catch (error) {
      return visit({ kind: 'unreadable', entry, error: error as NodeJS.ErrnoException });
    }
    const answer = visit({ kind: 'name', folder, inFolder, entry, stat, target });
    if (answer !== undefined) return answer;
    if (target === undefined) {
      folder = entry;
      continue;
    }
    if (++links > MAX_LINKS) return visit({ kind: 'too_many_links' });
    // A relative target is looked up in the link's own folder, where the walk still is.
    if (target.startsWith('/')) folder = '/';
    pending.unshift(...target.split('/'));
  }
  return undefined;
};

/**
 * What is wrong with the path `given` as the system looks it up (walkAsLookedUp), the file opened being the one it
 * finds (realpathSync.native, the system's realpath). Each folder a name is looked up in is held to the rule above,
 * and each link met must be this account's or root's (in a sticky folder its owner may replace it): whoever may put
 * another name in place of one on the way chooses what the path leads to. Review 194: `gw/key.pub`, a link in a folder anyone could write, led to a key in
 * folders of this account, and only those, the real path's, were checked.
 */
const givenPathProblem = (named: string, given: string, self: number): string | undefined =>
  walkAsLookedUp(given, (step) => {
    if (step.kind === 'unreadable') return `${named} is reached through ${step.entry}, which cannot be checked (${step.error.code ?? 'error'})`;
    if (step.kind === 'too_many_links') return `${named} is reached through more than ${MAX_LINKS} links (ELOOP)`;
    const { folder, inFolder, entry, stat, target } = step;
    if (!inFolder.isDirectory()) return `${named} is reached through ${folder}, which changed while it was checked (no longer a folder): try again`;
    const rule = folderRule(folder, inFolder, self, ANOTHER_PATH);
    if (rule !== undefined) return `${named} is reached through ${entry}, in ${folder}, ${rule}`;
    if (target !== undefined && ownedByAnotherAccount(stat.uid, self)) {
      return `${named} is reached through the link ${entry}, owned by uid ${stat.uid}, not by this account (uid ${self}) or root: that account may put another link in its place; name the file by its real path, or make the link yourself`;
    }
    return undefined;
  });

/**
 * What is wrong with the folders a trusted file `file` is in (or will be made in), by the rules `withTrustedFile`
 * holds them to, on its real path and on the path as given: for a file this process writes and later trusts, checked
 * before it is first written (review 194: a checkpoint saved where the next run refuses to read it is no use).
 */
export const trustedFolderProblem = (named: string, file: string): string | undefined => {
  const self = POSIX ? process.geteuid?.() : undefined;
  let real: string;
  try {
    real = resolve(realpathSync.native(dirname(resolve(file))), basename(file));
  } catch (error) {
    return `${named} is to be in ${dirname(resolve(file))}, which cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'}): make that folder, writable by this account only`;
  }
  return self === undefined ? undefined : (foldersProblem(named, real, self) ?? givenPathProblem(named, dirname(resolve(file)), self));
};

/**
 * Why `withTrustedFile` refused a file, for a caller to name the rule without reading the message (which names the
 * file, and a file's name may hold any text): `unreadable`, the system refused to open, stat or read it (`code`, its
 * errno code, when it gave one); `trusted_file`, it is no regular file (nor a pipe let by), breaks its rule (owner,
 * mode), is in or reached through folders or links others may change, or was replaced while it was checked.
 */
export type TrustedFileRefusal = { readonly kind: 'unreadable'; readonly code: string | undefined } | { readonly kind: 'trusted_file' };

export type TrustedFileRead<T> = { readonly ok: true; readonly value: T } | ({ readonly ok: false; readonly message: string } & TrustedFileRefusal);

/**
 * A path that names an open descriptor (the shell's /dev/fd/N, /dev/stdin, or /proc/<pid>/fd/N), exactly as given: one
 * reached through `..` or a link of another name is looked up as any other path.
 */
const NAMES_A_DESCRIPTOR = /^\/dev\/(?:fd\/\d+|stdin)$|^\/proc\/(?:self|thread-self|\d+)\/fd\/\d+$/;

/**
 * The real path of the file a descriptor path (NAMES_A_DESCRIPTOR) leads to, opened as `stat`; undefined when no name
 * leads there any more: removed since it was opened (its link then reads "/x/tok (deleted)", which names nothing, or
 * another file of that very name), or a pipe (pipe:[…]).
 */
const nameOfDescriptor = (file: string, stat: Stats): string | undefined => {
  if (!stat.isFile()) return undefined;
  let real: string;
  try {
    real = realpathSync.native(file);
  } catch {
    return undefined;
  }
  const named = lstatSync(real, { throwIfNoEntry: false });
  return named !== undefined && named.dev === stat.dev && named.ino === stat.ino ? real : undefined;
};

/**
 * `read` of the file `file`, given the descriptor of the file that was checked: the rules above hold for it (fstat on
 * the descriptor), for the folders above its real path and for those the path as given goes through (a link's own
 * folder: givenPathProblem), and the real path still names it once they are checked, so a
 * file put in its place between the check and the read is never what is read (review 85: it was checked by name and
 * read again by name). The real path is the system's (realpathSync.native: review 307, Node's JS realpath takes `..`
 * after a link as text, another file than the one the system opens). Opened without following a link put in place of
 * the real path since, and without blocking on a FIFO (refused: not a regular file, unless `rules.pipe`). The message
 * names the file as given, with its real path when a link led there. Windows has no owner and mode bits of this kind:
 * nothing but a regular file is checked there (docs say so). A path naming a descriptor (NAMES_A_DESCRIPTOR) is opened
 * as given, which opens the file the descriptor holds, named or not (review 307: one removed since, as bash before 5.1
 * backs a here-doc or here-string, failed with ENOENT): held to the file's rules, and to its folders when a name still
 * leads to it. A pipe of the shell (`<(…)`) has no real path: with `rules.pipe` the folders it is named in are checked
 * (trustedFolderProblem), and it must still be what the name leads to once they are.
 */
export const withTrustedFile = <T>(file: string, read: (fd: number) => T, rules: TrustedFileRules = {}): TrustedFileRead<T> => {
  const unreadable = (error: unknown): TrustedFileRead<T> => {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, kind: 'unreadable', code, message: `cannot read ${file}: ${code ?? 'unreadable'}` };
  };
  const untrusted = (message: string): TrustedFileRead<T> => ({ ok: false, kind: 'trusted_file', message });
  const descriptor = POSIX && NAMES_A_DESCRIPTOR.test(file);
  let real: string | undefined;
  let fd: number;
  try {
    if (descriptor) {
      // Followed (the name is the system's link to the open file): the file itself, whether a name still leads there.
      fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } else {
      let failed: unknown;
      try {
        real = realpathSync.native(file);
      } catch (error) {
        failed = error;
      }
      // A pipe reached by a name of its own, through a link to /dev/fd/N say, has no real path: realpath fails, or
      // makes one up that names nothing (/proc/N/fd/pipe:[…]). Said what it is, not ENOENT; read as given when a pipe
      // is let by.
      if (real === undefined || lstatSync(real, { throwIfNoEntry: false }) === undefined) {
        const given = statSync(file, { throwIfNoEntry: false });
        if (given === undefined || given.isFile()) throw failed ?? Object.assign(new Error(`${file}: ENOENT`), { code: 'ENOENT', errno: -2 });
        if (!(rules.pipe === true && given.isFIFO())) return untrusted(`${file} is not a regular file: name the file itself`);
        real = undefined;
      }
      // A pipe's name is a link: followed, and the descriptor then compared with it below.
      fd = openSync(real ?? file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (real !== undefined ? (constants.O_NOFOLLOW ?? 0) : 0));
    }
  } catch (error) {
    return unreadable(error);
  }
  try {
    const stat = fstatSync(fd);
    if (descriptor) real = nameOfDescriptor(file, stat);
    const named = real === undefined || real === resolve(file) ? file : `${file} (${real})`;
    // Windows: no uids nor mode bits of this kind (its ACLs are not read here); only a regular file is required.
    const self = POSIX ? process.geteuid?.() : undefined;
    const folders = (): string | undefined => {
      if (real !== undefined) return foldersProblem(named, real, self!) ?? givenPathProblem(named, file, self!);
      // A descriptor's file that no name leads to any more has no folder left in which another file could be put in
      // its place: what it holds is settled, and its own rules (owner, mode) are all it is held to.
      if (descriptor && stat.isFile()) return undefined;
      return trustedFolderProblem(named, file);
    };
    const problem = self === undefined ? fileProblem(named, file, stat, -1, { ...rules, fileRule: () => undefined }) : (fileProblem(named, file, stat, self, rules) ?? folders());
    if (problem !== undefined) return untrusted(problem);
    if (self !== undefined) {
      const now = real !== undefined ? lstatSync(real, { throwIfNoEntry: false }) : statSync(file, { throwIfNoEntry: false });
      if (now === undefined || now.dev !== stat.dev || now.ino !== stat.ino) return untrusted(`${named} was replaced while it was checked: try again`);
    }
    return { ok: true, value: read(fd) };
  } catch (error) {
    // A system call's refusal is the file's problem; anything else is a mistake in this code, or a rule's typed refusal.
    if (typeof (error as NodeJS.ErrnoException).errno !== 'number') throw error;
    return unreadable(error);
  } finally {
    closeSync(fd);
  }
};

/** Milliseconds between two looks at a pipe that has nothing to read yet. */
const PIPE_POLL_MS = 20;

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * What a pipe opened without blocking (withTrustedFile with `rules.pipe`) holds, at most `maxBytes` + 1 bytes (the caller
 * tells more than `maxBytes` as too large), or `undefined` when no writer has written it and gone within `waitMs`: a pipe
 * no one writes to would otherwise hold the command for good (review 295: a FIFO as --token-file hung past --timeout).
 * Read as it comes: nothing yet with a writer (EAGAIN), or no writer yet (0 before any byte), is waited for; 0 after
 * some bytes is the writer gone, the end. A regular file is read straight through.
 */
export const readWaitingForPipe = (fd: number, maxBytes: number, waitMs: number): Buffer | undefined => {
  const isPipe = fstatSync(fd).isFIFO();
  const deadline = Date.now() + waitMs;
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total));
    let read: number;
    try {
      read = readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || !isPipe) throw error;
      read = -1;
    }
    if (read > 0) {
      chunks.push(chunk.subarray(0, read));
      total += read;
      if (total > maxBytes) return Buffer.concat(chunks, total);
      continue;
    }
    if (read === 0 && (!isPipe || total > 0)) return Buffer.concat(chunks, total);
    if (Date.now() >= deadline) return undefined;
    sleepSync(PIPE_POLL_MS);
  }
};
