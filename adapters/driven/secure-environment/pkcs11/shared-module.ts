import { existsSync, fstatSync, realpathSync, statSync } from 'node:fs';
import { withTrustedFile } from '../../files/index.ts';
import { bindingError, ckr, forgetLogins, markForeign, unmarkForeign, pkcs11js, pkcs11Problem, type Pkcs11 } from './module.ts';

/**
 * A Secure Environment with a session on a shared module: what a re-initialisation of the module needs to know of it,
 * and to tell it (docs/hsm.md "Several Secure Environments on one module").
 */
export interface ModuleMember {
  /** The token's label, to name it in a refusal. */
  readonly label: string;
  /** True while its session is open, logged in, on its token: the module demonstrably works. */
  serving(): boolean;
  /**
   * True while its token holds session objects of this process in use (ephemeral keys, ECDH secrets): C_Finalize
   * destroys them, and nothing can make them again (they are never extractable), so a handshake would fail.
   */
  holdsSessionObjects(): boolean;
  /** The module was re-initialised for another member: every session is gone; open a new one now or on the next call. */
  reattach(): void;
}

/**
 * One loaded, initialised module per module library per process, shared and reference-counted: C_Initialize twice
 * in one process fails (CKR_CRYPTOKI_ALREADY_INITIALIZED), and SoftHSM2 reads SOFTHSM2_CONF only then, so the
 * last close finalises and the next open reads the configuration (and the token directory) afresh. `members` are
 * the Secure Environments on it, so that a recovery that must re-initialise it is coordinated across them.
 * Review 457 F1: keyed by the library file itself, never the path as written: a link and its target are one library
 * (the dynamic loader gives both one instance), and as two "modules" the second was taken for a fresh one, a wrong
 * PIN let in on the first one's login, and its close finalised the module under the first one's sessions. `foreign`:
 * the library was already initialised by another component of this process; Credence never finalises it (module.ts
 * `markForeign`: nor takes that component's login for a PIN check).
 */
interface SharedModule {
  readonly module: Pkcs11;
  references: number;
  readonly members: Set<ModuleMember>;
  /** Review 462 F2: cleared once a C_Initialize of ours succeeds on it (the other component finalised it meanwhile). */
  foreign: boolean;
  /** The real paths (byReal) and the files' device:inode (byFile) that lead to it: all dropped when it is finalised. */
  readonly reals: Set<string>;
  readonly files: Set<string>;
}
/**
 * Review 467: found as the dynamic loader finds a loaded library: by name first (glibc matches a path already loaded
 * before looking at the file, so a library upgraded in place, a new file renamed over its path, still reaches the
 * instance loaded before: keyed by the file alone it was taken for a new module, its C_Initialize answered
 * ALREADY_INITIALIZED and our own module was marked foreign), then by the file's device and inode (review 462 F1: a
 * hard link has a real path of its own, yet is the one library). Both are aliases of one entry, whose key (an id of
 * its own, never a path or an inode, which may lead elsewhere by now) is what acquireSharedModule hands out.
 */
const loaded = new Map<string, SharedModule>();
const byReal = new Map<string, string>();
const byFile = new Map<string, string>();
let nextKey = 0;

/** Adds the aliases `real` and `file` to the module of `key`, each unless it already leads to a module. */
const alias = (key: string, known: SharedModule, real: string, file: string): void => {
  if (!byReal.has(real)) {
    byReal.set(real, key);
    known.reals.add(real);
  }
  if (!byFile.has(file)) {
    byFile.set(file, key);
    known.files.add(file);
  }
};

/** The file withTrustedFile checked: its real path (what is loaded) and its device and inode (the module's aliases). */
interface CheckedLibrary {
  readonly real: string;
  readonly dev: number;
  readonly ino: number;
}

/**
 * The real path of `path` when it still names the very file open as `fd` (the one being checked), else undefined:
 * a name re-pointed meanwhile leads to a file no one checked.
 */
const checkedLibrary = (path: string, fd: number): CheckedLibrary | undefined => {
  const held = fstatSync(fd);
  const real = realpathSync.native(path);
  const named = statSync(real, { throwIfNoEntry: false });
  if (named === undefined || named.dev !== held.dev || named.ino !== held.ino) return undefined;
  return { real, dev: held.dev, ino: held.ino };
};

/** Review 467 F2: a file replaced under the check (twice: once is retried) is a race, not an untrusted file. */
const replaced = (path: string, when: string): Error =>
  pkcs11Problem('module-path', 'module_replaced', `${path} was replaced while it was ${when}: try again`);

/**
 * Loads (or shares) the module at `path`, checked as a trusted file; answers it and its key (an id of the loaded
 * module, reached by real path or by the file's device and inode), by which joinModule, releaseModule and
 * reinitialiseModule find it. `path` as written is what refusals name.
 */
export const acquireSharedModule = (path: string): { readonly module: Pkcs11; readonly key: string } => {
  const first = acquireOnce(path);
  // Review 467 F2: a file replaced between the check and the load (a package upgrade) is checked and loaded once more.
  if (!('replacedWhile' in first)) return first;
  const second = acquireOnce(path);
  if ('replacedWhile' in second) throw replaced(path, second.replacedWhile);
  return second;
};

type Acquired = { readonly module: Pkcs11; readonly key: string } | { readonly replacedWhile: 'checked' | 'loaded' };

const acquireOnce = (path: string): Acquired => {
  if (bindingError() !== undefined) {
    throw pkcs11Problem('module-path', 'binding', `the pkcs11js native binding is not usable here (${(bindingError() as Error).message}): reinstall with build tools`);
  }
  if (!existsSync(path)) throw pkcs11Problem('module-path', 'module_file', `${path}: no such PKCS#11 module file`);
  // Review 324 item 1: the library runs as this account, with the token logged in, so whoever may write it or put
  // another in its place (it, or a folder above it or on a link's way) holds the keys: held to the trusted-file rules
  // (trusted-file.ts). Review 462 F3: the check hands back the real path it checked, and that path is loaded (never
  // the name resolved again), then compared once more with the file checked.
  const trusted = withTrustedFile(path, (fd) => checkedLibrary(path, fd));
  if (!trusted.ok) throw pkcs11Problem('module-path', trusted.kind === 'unreadable' ? 'module_file' : 'trusted_file', trusted.message);
  const checked = trusted.value;
  if (checked === undefined) return { replacedWhile: 'checked' };
  const file = `${checked.dev}:${checked.ino}`;
  const found = byReal.get(checked.real) ?? byFile.get(file);
  const known = found === undefined ? undefined : loaded.get(found);
  if (found !== undefined && known !== undefined) {
    alias(found, known, checked.real, file);
    known.references += 1;
    return { module: known.module, key: found };
  }
  const module = new pkcs11js.PKCS11();
  const closeQuietly = () => {
    try {
      module.close();
    } catch {
      // The library could not be used at all: nothing more to release.
    }
  };
  try {
    module.load(checked.real);
  } catch (error) {
    closeQuietly();
    throw pkcs11Problem('module-path', 'module_file', `${path}: not a usable PKCS#11 module (${ckr(error) ?? (error as Error).message})`);
  }
  const now = statSync(checked.real, { throwIfNoEntry: false });
  if (now === undefined || now.dev !== checked.dev || now.ino !== checked.ino) {
    closeQuietly();
    return { replacedWhile: 'loaded' };
  }
  let foreign = false;
  try {
    module.C_Initialize();
  } catch (error) {
    if (ckr(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      closeQuietly();
      throw pkcs11Problem('module-path', 'module_file', `${path}: not a usable PKCS#11 module (${ckr(error) ?? (error as Error).message})`);
    }
    // Not by us (none of ours is keyed by this library): another component of this process initialised it.
    foreign = true;
    markForeign(module);
  }
  nextKey += 1;
  const key = `module-${nextKey}`;
  const entry: SharedModule = { module, references: 1, members: new Set(), foreign, reals: new Set(), files: new Set() };
  loaded.set(key, entry);
  alias(key, entry, checked.real, file);
  return { module, key };
};

/** Counts `member` among the Secure Environments on the module of `key` (acquireSharedModule's, acquired before). */
export const joinModule = (key: string, member: ModuleMember): void => {
  loaded.get(key)?.members.add(member);
};

/**
 * Releases one acquisition of the module of `key` (acquireSharedModule's: never a path, which may lead elsewhere by
 * now, review 462 F6); the last one finalises it, unless another component initialised it.
 */
export const releaseModule = (key: string, member?: ModuleMember): void => {
  const known = loaded.get(key);
  if (!known) throw new Error(`PKCS#11 module ${key} released more often than acquired`);
  if (member !== undefined) known.members.delete(member);
  known.references -= 1;
  if (known.references > 0) return;
  loaded.delete(key);
  for (const real of known.reals) byReal.delete(real);
  for (const file of known.files) byFile.delete(file);
  forgetLogins(known.module);
  if (known.foreign) {
    // Another component's initialisation: its sessions and its login stay; only our handle on the library goes.
    known.module.close();
    return;
  }
  try {
    known.module.C_Finalize();
  } catch (error) {
    // Already finalised (by other code in this process, or a module that lost its device): nothing left to end.
    if (ckr(error) !== 'CKR_CRYPTOKI_NOT_INITIALIZED') throw error;
  } finally {
    known.module.close();
  }
};

/**
 * C_Finalize then C_Initialize of a shared module, for `requester`'s recovery that could not simply reopen a
 * session (a module finalised under Credence, a device restarted, a token that is back: SoftHSM2 lists the tokens
 * it finds at C_Initialize only; network HSM modules reconnect there). Every session of this process on the module
 * ends with it, so it is coordinated with the other Secure Environments on the module:
 * - it is refused (`module_in_use`, naming the token) while another one is serving and its token holds session
 *   objects in use: the module works, so re-initialising it would only destroy a live handshake's keys for a token
 *   that may well still be away; the requester is unavailable until the next call, and the others keep working;
 * - otherwise, once re-initialised, every other member reopens its session straight away (its token found again by
 *   label and serial, its PIN read again), so they keep working without noticing, instead of each meeting a lost
 *   session (and possibly re-initialising the module once more) on its next call.
 */
export const reinitialiseModule = (key: string, requester: ModuleMember): void => {
  const known = loaded.get(key);
  if (!known) return;
  const others = [...known.members].filter((member) => member !== requester);
  if (known.foreign) {
    // Never finalised under the component that initialised it. Initialised again only if it was finalised meanwhile
    // (by that component): every session went with it, so the others reopen theirs.
    try {
      known.module.C_Initialize();
    } catch (error) {
      if (ckr(error) === 'CKR_CRYPTOKI_ALREADY_INITIALIZED') return;
      throw error;
    }
    // Review 462 F2: initialised by us now, so ours: finalised on the last close, restarted as any other, and its
    // logins checked as ours.
    known.foreign = false;
    unmarkForeign(known.module);
    forgetLogins(known.module);
    for (const other of others) other.reattach();
    return;
  }
  const holding = others.find((member) => member.serving() && member.holdsSessionObjects());
  if (holding !== undefined) {
    throw pkcs11Problem(
      'token',
      'module_in_use',
      `the module is not re-initialised while the Secure Environment on token "${holding.label}" has session objects in use (they would be destroyed)`,
    );
  }
  forgetLogins(known.module);
  try {
    known.module.C_Finalize();
  } catch (error) {
    if (ckr(error) !== 'CKR_CRYPTOKI_NOT_INITIALIZED') throw error;
  }
  try {
    known.module.C_Initialize();
  } catch (error) {
    if (ckr(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw error;
  }
  for (const other of others) other.reattach();
};
