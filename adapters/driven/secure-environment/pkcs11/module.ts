import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { validationError, type CredenceError } from '../../../../domain/errors.ts';
import type { Pkcs11Uri } from './uri.ts';

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
  } catch (error) {
    // Already finalised (by other code in this process, or a module that lost its device): nothing left to end.
    if (ckr(error) !== 'CKR_CRYPTOKI_NOT_INITIALIZED') throw error;
  } finally {
    known.module.close();
  }
};

/**
 * C_Finalize then C_Initialize on a loaded module, for a recovery that could not simply reopen a session: a module
 * finalised under Credence, a token that is back after a restart (SoftHSM2 lists the tokens it found at
 * C_Initialize; network HSM modules re-connect there). Every session of this process on the module ends, so the
 * other Secure Environments sharing it recover too, on their next call. Login state goes with it.
 */
export const reinitialiseModule = (path: string): void => {
  const known = loaded.get(path);
  if (!known) return;
  loggedIn.delete(known.module);
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
};

const trimmed = (text: string): string => text.replace(/\s+$/u, '');

/**
 * C_GetTokenInfo, or undefined when the slot's token cannot answer: SoftHSM2 still lists a slot whose token was
 * deleted under it and answers CKR_GENERAL_ERROR for it; an HSM answers CKR_TOKEN_NOT_PRESENT or CKR_DEVICE_REMOVED.
 */
const tokenInfo = (module: Pkcs11, slot: Pkcs11Handle): Pkcs11js.TokenInfo | undefined => {
  try {
    return module.C_GetTokenInfo(slot);
  } catch (error) {
    if (ckr(error) === undefined) throw error;
    return undefined;
  }
};

/** CK_STATE values (PKCS#11 v2.40 §5.6) pkcs11js 2.1 does not name: a session with the user logged in. */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** True while `slot` holds the URI's token (by label) and `session` on it is logged in as the user. */
export const tokenStillServes = (module: Pkcs11, slot: Pkcs11Handle, session: Pkcs11Handle, label: string): boolean => {
  const info = tokenInfo(module, slot);
  if (info === undefined || trimmed(info.label) !== label) return false;
  try {
    const state = module.C_GetSessionInfo(session).state;
    return state === CKS_RW_USER_FUNCTIONS || state === CKS_RO_USER_FUNCTIONS;
  } catch (error) {
    if (ckr(error) === undefined) throw error;
    return false;
  }
};

/**
 * Return values after which the session (or the login on it, or the device) is gone, whatever the call was
 * (PKCS#11 v2.40 §5.1, §11): a recovery reopens the session and logs in again (docs/hsm.md).
 */
export const SESSION_LOST: ReadonlySet<string> = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);
/** Return values that may mean the device went away (SoftHSM2: CKR_GENERAL_ERROR on a deleted token): checked. */
export const MAYBE_GONE: ReadonlySet<string> = new Set(['CKR_GENERAL_ERROR', 'CKR_DEVICE_ERROR', 'CKR_FUNCTION_FAILED', 'CKR_OBJECT_HANDLE_INVALID']);

/** The slot whose token matches the URI's label (and serial, manufacturer, model when given). */
export const findTokenSlot = (module: Pkcs11, token: Pkcs11Uri['token']): Pkcs11Handle => {
  for (const slot of module.C_GetSlotList(true)) {
    const info = tokenInfo(module, slot);
    if (info === undefined) continue;
    if (trimmed(info.label) !== token.label) continue;
    if (token.serial !== undefined && trimmed(info.serialNumber) !== token.serial) continue;
    if (token.manufacturer !== undefined && trimmed(info.manufacturerID) !== token.manufacturer) continue;
    if (token.model !== undefined && trimmed(info.model) !== token.model) continue;
    return slot;
  }
  throw pkcs11Problem('token', 'token_present', `no initialised token labelled "${token.label}" (with the URI's other attributes) in this module`);
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
