import { readFileSync, statSync, type Stats } from 'node:fs';
import { assertOwnedByProcess, openToGroupOrOthers } from '../../files/index.ts';
import { pkcs11Problem } from './module.ts';
import type { PinSource } from './uri.ts';

export const MAX_PIN_CHARS = 255;

/** One PIN, as C_Login takes it (pkcs11js passes a JS string), and where it came from (named in errors, never the PIN). */
export interface Pin {
  readonly value: string;
  readonly from: string;
}

const trimmed = (text: string): string => text.replace(/\s+$/u, '');
const describe = (pin: PinSource): string => (pin.source === 'file' ? `the file ${pin.path}` : `the environment variable ${pin.name}`);

/** Names this process already took a PIN from and removed from process.env: a second open gets a clear refusal. */
const removedFromEnvironment = new Set<string>();

const checked = (value: string | undefined, from: string, removed = false): string => {
  if (value === undefined || value.length === 0) {
    const why = removed ? ` (Credence removed it from the environment when it first read it: use pin-source=file: to open more than one Secure Environment in a process, docs/hsm.md)` : '';
    throw pkcs11Problem('pin-source', 'pin_present', `no PIN in ${from}${why}`);
  }
  if (value.length > MAX_PIN_CHARS) throw pkcs11Problem('pin-source', 'pin_length', `the PIN in ${from} is longer than ${MAX_PIN_CHARS} characters`);
  return value;
};

const readPinFile = (path: string, from: string): string => {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch {
    throw pkcs11Problem('pin-source', 'pin_file', `${from} cannot be read`);
  }
  // Another account that owns the PIN file can read it, or swap in a PIN of its choosing between logins.
  assertOwnedByProcess(path, stat, 'pin-source', 'PKCS#11 Secure Environment');
  if (openToGroupOrOthers(stat.mode)) throw pkcs11Problem('pin-source', 'pin_file', `${from} must not be readable by group or others (chmod 600)`);
  return checked(trimmed(readFileSync(path, 'utf8')), from);
};

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
 */
export class PinSupply {
  readonly #source: PinSource;
  readonly from: string;
  #kept: Buffer | undefined;
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

  /** The PIN for one C_Login; the caller drops it straight after. */
  read(): Pin {
    if (this.#source.source === 'file') return { value: readPinFile(this.#source.path, this.from), from: this.from };
    if (this.#kept === undefined) throw pkcs11Problem('pin-source', 'pin_present', `the PIN from ${this.from} was wiped when this Secure Environment closed`);
    return { value: this.#kept.toString('utf8'), from: this.from };
  }

  close(): void {
    this.#kept?.fill(0);
    this.#kept = undefined;
  }
}
