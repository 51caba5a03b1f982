import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { assertOwnedByProcess, openToGroupOrOthers } from '../../files/index.ts';
import { pkcs11Problem } from './module.ts';
import type { PinSource } from './uri.ts';

export const MAX_PIN_CHARS = 255;

/** One PIN, as C_Login takes it (pkcs11js passes a JS string), and where it came from (named in errors, never the PIN). */
export interface Pin {
  readonly value: string;
  readonly from: string;
  /** What the source was when this PIN was read (a file's identity, size and times): a refusal is remembered against it. */
  readonly version: string;
}

/** More than any PIN file needs (a PIN is at most MAX_PIN_CHARS, plus a newline): refused before it is read. */
const MAX_PIN_FILE_BYTES = 4096;

/** One line ending, as `echo` or an editor leaves it; a PIN may end in a space or a tab (review 116: all were cut). */
const trimmed = (text: string): string => text.replace(/\r?\n$/u, '');
const describe = (pin: PinSource): string => (pin.source === 'file' ? `the file ${pin.path}` : `the environment variable ${pin.name}`);

/** Names this process already took a PIN from and removed from process.env: a second open gets a clear refusal. */
const removedFromEnvironment = new Set<string>();

const checked = (value: string | undefined, from: string, removed = false): string => {
  if (value === undefined || value.length === 0) {
    const why = removed ? ` (Credence removed it from the environment when it first read it: use pin-source=file: to open more than one Secure Environment in a process, docs/hsm.md)` : '';
    throw pkcs11Problem('pin-source', 'pin_present', `no PIN in ${from}${why}`);
  }
  if (value.length > MAX_PIN_CHARS) throw pkcs11Problem('pin-source', 'pin_length', `the PIN in ${from} is longer than ${MAX_PIN_CHARS} characters`);
  // Refused here, before C_Login spends one of the token's PIN attempts on it (review 117): a second line ending (an
  // editor's final newline after the PIN's own), a CR, a tab or a byte-order mark is never meant as part of a PIN.
  if (/[\p{Cc}\uFEFF]/u.test(value)) {
    throw pkcs11Problem('pin-source', 'pin_characters', `the PIN in ${from} holds a line break, a control character or a byte-order mark past its one final line ending: write the PIN alone, on one line`);
  }
  // U+FFFD is what Node makes of bytes in the environment that are not UTF-8: C_Login would get a PIN nobody wrote and
  // spend one of the token's attempts on it (review 324).
  if (value.includes('\uFFFD')) throw notUtf8(from);
  return value;
};

const notUtf8 = (from: string) =>
  pkcs11Problem('pin-source', 'pin_characters', `the PIN in ${from} is not valid UTF-8 (or holds U+FFFD, the mark of bytes that were not): write the PIN in UTF-8`);

/**
 * Strict: bytes that are not UTF-8 are refused, never replaced by U+FFFD (review 324: the lossy read sent C_Login a PIN
 * the operator never wrote). A leading byte-order mark is kept, for `checked` to refuse as before, not dropped unseen.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const decoded = (bytes: Buffer, from: string): string => {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw notUtf8(from);
  } finally {
    bytes.fill(0);
  }
};

/**
 * The PIN file through one file descriptor (as kek.ts reads the KEK): what is checked (a regular file, owner, mode,
 * size) is what is read, never a file swapped in between by name. Non-blocking, so a FIFO put in its place is
 * refused at once instead of hanging the open until some writer comes. A link is followed and judged by its target.
 */
const readPinFile = (path: string, from: string): { value: string; version: string } => {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw pkcs11Problem('pin-source', 'pin_file', `${from} cannot be read${code === undefined ? '' : ` (${code})`}`);
  }
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) {
      const kind = stat.isDirectory() ? 'a folder' : stat.isFIFO() ? 'a FIFO' : 'not a regular file';
      throw pkcs11Problem('pin-source', 'pin_file', `${from} is ${kind}: name a regular file holding the PIN`);
    }
    // Another account that owns the PIN file can read it, or swap in a PIN of its choosing between logins.
    assertOwnedByProcess(path, { uid: Number(stat.uid) }, 'pin-source', 'PKCS#11 Secure Environment');
    if (openToGroupOrOthers(Number(stat.mode))) throw pkcs11Problem('pin-source', 'pin_file', `${from} must not be readable by group or others (chmod 600)`);
    if (stat.size > MAX_PIN_FILE_BYTES) throw pkcs11Problem('pin-source', 'pin_length', `${from} holds ${stat.size} bytes, more than a PIN of at most ${MAX_PIN_CHARS} characters`);
    const value = checked(trimmed(decoded(readFileSync(fd), from)), from);
    // Any rewrite, replacement or touch of the file changes one of these (a new inode, size, mtime or ctime).
    return { value, version: `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}` };
  } finally {
    closeSync(fd);
  }
};

/** Keys the digest of a refused PIN: one-way, and meaningless outside this process. */
const REFUSAL_KEY = randomBytes(32);
const digestOf = (pin: string): Buffer => createHmac('sha256', REFUSAL_KEY).update(pin, 'utf8').digest();

/**
 * Where a Secure Environment gets its PIN, at open and again whenever it must log in anew after a lost session (an
 * HSM or module restart, docs/hsm.md "The PIN"):
 * - `file:` is read each time and never kept: the file is the one place the PIN lives, so an operator can rotate it
 *   there and nothing in the process outlives one C_Login.
 * - `env:` (and the default CREDENCE_PKCS11_PIN) is read once, then deleted from `process.env`, so no child process
 *   inherits it and nothing that dumps the environment (crash reporters, diagnostics) shows it. The environment
 *   cannot be read again, so the PIN is kept for re-login in a Buffer (a JS string cannot be wiped), zeroed on
 *   close. Memory of this process is no new exposure: its initial environment block (/proc/<pid>/environ) keeps
 *   the variable's bytes whatever process.env says, and anyone reading it can use the logged-in session anyway.
 * A PIN the token refused is never offered again as it is (each refusal spends one of the token's PIN attempts, and
 * HSMs lock the PIN after a few): `read` answers with the remembered refusal until the file holds another PIN or is
 * rewritten (touched, replaced); an environment PIN cannot change, so until the process restarts.
 */
export class PinSupply {
  readonly #source: PinSource;
  readonly from: string;
  #kept: Buffer | undefined;
  /** The last PIN the token refused: its keyed digest, the source's version it was read from, and the refusal. */
  #refused: { readonly digest: Buffer; readonly version: string; readonly rule: string; readonly message: string } | undefined;
  /** The process.env variable to remove once the Secure Environment is open; none for a file or a caller's env. */
  #leaves: string | undefined;

  private constructor(source: PinSource, kept?: Buffer) {
    this.#source = source;
    this.from = describe(source);
    this.#kept = kept;
  }

  /**
   * A file source is checked now (refused early) and read again at each `read`. An environment variable is taken
   * out of the environment by `leaveEnvironment`, once the open has succeeded (a failed open leaves the environment
   * as it was, so a second attempt reports the real cause): out of `process.env` when that is where it is read (a
   * caller's own `env` object is the caller's, left as it is).
   */
  static take(source: PinSource, env: Readonly<Record<string, string | undefined>>): PinSupply {
    const from = describe(source);
    if (source.source === 'file') {
      readPinFile(source.path, from);
      return new PinSupply(source);
    }
    const isProcessEnvironment = env === process.env;
    const value = checked(env[source.name], from, isProcessEnvironment && removedFromEnvironment.has(source.name));
    const supply = new PinSupply(source, Buffer.from(value, 'utf8'));
    if (isProcessEnvironment) supply.#leaves = source.name;
    return supply;
  }

  /** Removes an environment PIN from `process.env`: called once the Secure Environment is open. */
  leaveEnvironment(): void {
    if (this.#leaves === undefined) return;
    delete process.env[this.#leaves];
    removedFromEnvironment.add(this.#leaves);
    this.#leaves = undefined;
  }

  /**
   * The PIN for one C_Login; the caller drops it straight after. Throws the remembered refusal instead when it is the
   * PIN the token last refused, read from the source as it was then (`refused`).
   */
  read(): Pin {
    const pin = this.#readSource();
    const refused = this.#refused;
    if (refused !== undefined && refused.version === pin.version && timingSafeEqual(refused.digest, digestOf(pin.value))) {
      const until = this.#source.source === 'file' ? `${this.from} changes` : 'Credence restarts';
      throw pkcs11Problem('pin-source', refused.rule, `${refused.message}; that PIN is not offered to the token again until ${until} (docs/hsm.md "The PIN")`);
    }
    return pin;
  }

  /** The token refused `pin` (`refusal`: pin_incorrect or pin_locked): `read` answers with it until the source changes. */
  refused(pin: Pin, refusal: { readonly rule: string; readonly message: string }): void {
    this.#refused = { digest: digestOf(pin.value), version: pin.version, rule: refusal.rule, message: refusal.message };
  }

  /** The token took the PIN: nothing refused is remembered any more. */
  accepted(): void {
    this.#refused = undefined;
  }

  #readSource(): Pin {
    if (this.#source.source === 'file') return { ...readPinFile(this.#source.path, this.from), from: this.from };
    if (this.#kept === undefined) throw pkcs11Problem('pin-source', 'pin_present', `the PIN from ${this.from} was wiped when this Secure Environment closed`);
    // The kept environment PIN never changes: one version, so a refusal of it stands until the process restarts.
    return { value: this.#kept.toString('utf8'), from: this.from, version: 'environment' };
  }

  close(): void {
    this.#kept?.fill(0);
    this.#kept = undefined;
    this.#refused = undefined;
  }
}
