import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { validationError, type CredenceError } from '../../../../domain/errors.ts';
import type { PinSource, Pkcs11Uri } from './uri.ts';

/**
 * Loaded with require: pkcs11js is a CommonJS module whose exports are assigned at run time, so Node's ESM import
 * cannot see its named exports (every constant would be undefined outside a bundler's interop).
 */
let bindingError: unknown;
export const pkcs11js = ((): typeof Pkcs11js => {
  try {
    return createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;
  } catch (error) {
    // A broken native build must not break `import 'credence'` for those who never use an HSM: refused at open.
    bindingError = error;
    return {} as typeof Pkcs11js;
  }
})();
export type Pkcs11 = Pkcs11js.PKCS11;
export type Pkcs11Handle = Pkcs11js.Handle;
export type Pkcs11Template = Pkcs11js.Template;
export type Pkcs11EcdhParameters = Pkcs11js.ECDH1;

const SUBJECT = 'PKCS#11 Secure Environment';
export const pkcs11Problem = (path: string, rule: string, message: string): CredenceError => validationError([{ path, rule, message }], SUBJECT);

/** The token lacks a mechanism an operation needs (or Credence does not use it without `x-derivation=host`). */
export const mechanismUnsupported = (mechanism: string, why: string): CredenceError =>
  pkcs11Problem('mechanism', 'mechanism_unsupported', `mechanism_unsupported: ${mechanism}: ${why}`);

/** The CKR_* name of a pkcs11js error, or undefined for anything else. */
export const ckr = (error: unknown): string | undefined =>
  pkcs11js.Pkcs11Error !== undefined && error instanceof pkcs11js.Pkcs11Error && /^CKR_/.test(error.message) ? error.message : undefined;

/**
 * One loaded, initialised module per module path per process, shared and reference-counted: C_Initialize twice
 * in one process fails (CKR_CRYPTOKI_ALREADY_INITIALIZED), and SoftHSM2 reads SOFTHSM2_CONF only then, so the
 * last close finalises and the next open reads the configuration (and the token directory) afresh.
 */
const loaded = new Map<string, { module: Pkcs11; references: number }>();

/**
 * PKCS#11 login state belongs to the application, not the session (v2.40 §5.6): once one Secure Environment has
 * logged in to a token, C_Login from a second one answers CKR_USER_ALREADY_LOGGED_IN without checking its PIN. A
 * keyed digest of the PIN that logged in (per module, per slot) lets the second one's PIN still be checked, so a
 * wrong PIN is refused however many Secure Environments are open. Forgotten when the module is finalised.
 */
const PIN_DIGEST_KEY = randomBytes(32);
const loggedIn = new Map<Pkcs11, Map<string, Buffer>>();
const pinDigest = (pin: string): Buffer => createHmac('sha256', PIN_DIGEST_KEY).update(pin, 'utf8').digest();

export const acquireModule = (path: string): Pkcs11 => {
  const known = loaded.get(path);
  if (known) {
    known.references += 1;
    return known.module;
  }
  if (bindingError !== undefined) {
    throw pkcs11Problem('module-path', 'binding', `the pkcs11js native binding is not usable here (${(bindingError as Error).message}): reinstall with build tools`);
  }
  if (!existsSync(path)) throw pkcs11Problem('module-path', 'module_file', `${path}: no such PKCS#11 module file`);
  const module = new pkcs11js.PKCS11();
  try {
    module.load(path);
    module.C_Initialize();
  } catch (error) {
    if (ckr(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      try {
        module.close();
      } catch {
        // The library could not be used at all: nothing more to release.
      }
      throw pkcs11Problem('module-path', 'module_file', `${path}: not a usable PKCS#11 module (${ckr(error) ?? (error as Error).message})`);
    }
  }
  loaded.set(path, { module, references: 1 });
  return module;
};

export const releaseModule = (path: string): void => {
  const known = loaded.get(path);
  if (!known) return;
  known.references -= 1;
  if (known.references > 0) return;
  loaded.delete(path);
  loggedIn.delete(known.module);
  try {
    known.module.C_Finalize();
  } finally {
    known.module.close();
  }
};

const trimmed = (text: string): string => text.replace(/\s+$/u, '');

/** The slot whose token matches the URI's label (and serial, manufacturer, model when given). */
export const findTokenSlot = (module: Pkcs11, token: Pkcs11Uri['token']): Pkcs11Handle => {
  for (const slot of module.C_GetSlotList(true)) {
    const info = module.C_GetTokenInfo(slot);
    if (trimmed(info.label) !== token.label) continue;
    if (token.serial !== undefined && trimmed(info.serialNumber) !== token.serial) continue;
    if (token.manufacturer !== undefined && trimmed(info.manufacturerID) !== token.manufacturer) continue;
    if (token.model !== undefined && trimmed(info.model) !== token.model) continue;
    return slot;
  }
  throw pkcs11Problem('token', 'token_present', `no initialised token labelled "${token.label}" (with the URI's other attributes) in this module`);
};

const describePinSource = (pin: PinSource): string => (pin.source === 'file' ? `the file ${pin.path}` : `the environment variable ${pin.name}`);
export const MAX_PIN_CHARS = 255;

/** The PIN from its file (refused when group or others can read it) or environment variable; never logged. */
export const readPin = (pin: PinSource, env: Readonly<Record<string, string | undefined>>): { value: string; from: string } => {
  const from = describePinSource(pin);
  let value: string | undefined;
  if (pin.source === 'file') {
    let mode: number;
    try {
      mode = statSync(pin.path).mode;
    } catch {
      throw pkcs11Problem('pin-source', 'pin_file', `${from} cannot be read`);
    }
    if ((mode & 0o077) !== 0) throw pkcs11Problem('pin-source', 'pin_file', `${from} must not be readable by group or others (chmod 600)`);
    value = trimmed(readFileSync(pin.path, 'utf8'));
  } else {
    value = env[pin.name];
  }
  if (value === undefined || value.length === 0) throw pkcs11Problem('pin-source', 'pin_present', `no PIN in ${from}`);
  if (value.length > MAX_PIN_CHARS) throw pkcs11Problem('pin-source', 'pin_length', `the PIN in ${from} is longer than ${MAX_PIN_CHARS} characters`);
  return { value, from };
};

/**
 * C_Login as the user; a wrong PIN is a typed error naming where the PIN came from, never the PIN. When the token
 * is already logged in (another Secure Environment of this process on it), the PIN is compared with the one that
 * logged in, so it is refused exactly as the token would refuse it.
 */
export const login = (module: Pkcs11, slot: Pkcs11Handle, session: Pkcs11Handle, pin: { value: string; from: string }): void => {
  const incorrect = () => pkcs11Problem('pin-source', 'pin_incorrect', `the token refused the PIN from ${pin.from} (CKR_PIN_INCORRECT)`);
  const slots = loggedIn.get(module) ?? new Map<string, Buffer>();
  const slotKey = slot.toString('hex');
  const digest = pinDigest(pin.value);
  try {
    module.C_Login(session, pkcs11js.CKU_USER, pin.value);
    slots.set(slotKey, digest);
    loggedIn.set(module, slots);
  } catch (error) {
    const code = ckr(error);
    if (code === 'CKR_USER_ALREADY_LOGGED_IN') {
      const known = slots.get(slotKey);
      // Logged in by code outside Credence (the same library loaded by another component): the token's word only.
      if (known !== undefined && !timingSafeEqual(known, digest)) throw incorrect();
      return;
    }
    if (code === 'CKR_PIN_INCORRECT') throw incorrect();
    if (code === 'CKR_PIN_LOCKED') throw pkcs11Problem('pin-source', 'pin_locked', 'the user PIN of this token is locked (CKR_PIN_LOCKED): the security officer must reset it');
    throw pkcs11Problem('pin-source', 'login', `C_Login failed (${code ?? 'unknown error'})`);
  }
};
