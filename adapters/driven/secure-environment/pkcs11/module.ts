import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { secureEnvironmentUnavailable, secureEnvironmentUnsupported, validationError, type CredenceError } from '../../../../domain/errors.ts';
import type { Pkcs11Uri } from './uri.ts';

/**
 * Loaded with require: pkcs11js is a CommonJS module whose exports are assigned at run time, so Node's ESM import
 * cannot see its named exports (every constant would be undefined outside a bundler's interop).
 */
let unusableBinding: unknown;
/** Why the native binding could not be loaded, or undefined (refused at open, naming it). */
export const bindingError = (): unknown => unusableBinding;
export const pkcs11js = ((): typeof Pkcs11js => {
  try {
    return createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;
  } catch (error) {
    // A broken native build must not break `import 'credence'` for those who never use an HSM: refused at open.
    unusableBinding = error;
    return {} as typeof Pkcs11js;
  }
})();
export type Pkcs11 = Pkcs11js.PKCS11;
export type Pkcs11Handle = Pkcs11js.Handle;
export type Pkcs11Template = Pkcs11js.Template;
export type Pkcs11EcdhParameters = Pkcs11js.ECDH1;

const SUBJECT = 'PKCS#11 Secure Environment';
export const pkcs11Problem = (path: string, rule: string, message: string): CredenceError => validationError([{ path, rule, message }], SUBJECT);

/**
 * The token cannot be used now (gone, session lost and not reopened, PIN locked or refused at a new login, device
 * error): `secure_environment_unavailable`, the service's condition and not the caller's input (review 144: it was a
 * `validation` refusal, answered 400 and never retried). `message` names the token; the first CKR_* in it is the
 * problem's `returnValue`.
 */
export const pkcs11Unavailable = (rule: string, message: string): CredenceError =>
  secureEnvironmentUnavailable(rule, message, /CKR_[A-Z0-9_]+/.exec(message)?.[0]);

/**
 * The token lacks a mechanism an operation needs (or Credence does not use it without `x-derivation=host`): the
 * deployment's to mend, not the caller's input (it was a `validation` issue on `mechanism`, answered 400).
 * `mechanism` undefined: the token refused one it lists (CKR_MECHANISM_INVALID), `returnValue` then names that.
 */
export const mechanismUnsupported = (mechanism: string | undefined, why: string, returnValue?: string): CredenceError =>
  secureEnvironmentUnsupported('mechanism_unsupported', `mechanism_unsupported: ${mechanism ?? '(token)'}: ${why}`, { mechanism, returnValue });

/**
 * The CKR_* name of a pkcs11js error, or undefined for anything else. The name alone: an error wrapped twice by
 * pkcs11js keeps its numeric suffix (`CKR_KEY_HANDLE_INVALID:96`), which would match none of the sets below.
 * Review 407: pkcs11js 2.1 throws C_FindObjects' and C_SetAttributeValue's failures as a plain Error whose message is
 * the value and nothing else (`CKR_SESSION_HANDLE_INVALID:179`: its `modify` wraps them without its catchError), so
 * such an Error is read too; read as no CKR_* at all, a session lost during a search was never recovered.
 */
export const ckr = (error: unknown): string | undefined => {
  const pkcs11Error = pkcs11js.Pkcs11Error !== undefined && error instanceof pkcs11js.Pkcs11Error;
  if (!pkcs11Error && !(error instanceof Error && /^CKR_[A-Z0-9_]+(:\d+)?$/.test(error.message))) return undefined;
  return /^CKR_[A-Z0-9_]+/.exec(error.message)?.[0];
};

/**
 * `error` with `method` (the C_* function that threw it) set when it carries none, as it is thrown on: told by
 * token-errors.ts `callError` whatever is called after it (a search's C_FindObjectsFinal, review 407).
 */
export const failedIn = (method: string, error: unknown): unknown => {
  if (error instanceof Error && !(error as { method?: unknown }).method) {
    Object.defineProperty(error, 'method', { value: method, writable: true, configurable: true, enumerable: false });
  }
  return error;
};

/**
 * PKCS#11 login state belongs to the application, not the session (v2.40 §5.6): once one Secure Environment has
 * logged in to a token, C_Login from a second one answers CKR_USER_ALREADY_LOGGED_IN without checking its PIN. A
 * keyed digest of the PIN that logged in (per module, per slot) lets the second one's PIN still be checked, so a
 * wrong PIN is refused however many Secure Environments are open. Forgotten when the module is finalised.
 */
const PIN_DIGEST_KEY = randomBytes(32);
const loggedIn = new Map<Pkcs11, Map<string, Buffer>>();
const pinDigest = (pin: string): Buffer => createHmac('sha256', PIN_DIGEST_KEY).update(pin, 'utf8').digest();

/** The module is finalised (closed or re-initialised, shared-module.ts): its login state went with it. */
export const forgetLogins = (module: Pkcs11): void => {
  loggedIn.delete(module);
};

/**
 * Review 457 F1: modules another component of this process had initialised when Credence loaded them (C_Initialize
 * answered CKR_CRYPTOKI_ALREADY_INITIALIZED for a library file Credence did not hold). Their login is that component's:
 * CKR_USER_ALREADY_LOGGED_IN with no login of ours recorded checks no PIN of ours, so it is refused (`login`).
 */
const foreign = new WeakSet<Pkcs11>();
export const markForeign = (module: Pkcs11): void => {
  foreign.add(module);
};
/** Review 462 F2: a C_Initialize of ours succeeded on it (that component finalised it): the module is ours now. */
export const unmarkForeign = (module: Pkcs11): void => {
  foreign.delete(module);
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

/** True while `slot` holds the same token (label, and serial once known) and `session` on it is logged in as the user. */
export const tokenStillServes = (module: Pkcs11, slot: Pkcs11Handle, session: Pkcs11Handle, token: Pkcs11Uri['token']): boolean => {
  const info = tokenInfo(module, slot);
  if (info === undefined || trimmed(info.label) !== token.label) return false;
  if (token.serial !== undefined && trimmed(info.serialNumber) !== token.serial) return false;
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
/**
 * A key object that is no longer there (PKCS#11 v2.40 §5.1): destroyed by another process between the lookup and
 * the call that used it, when the session still serves. The key is gone, which is `not_found`, never tampering.
 */
export const OBJECT_GONE: ReadonlySet<string> = new Set(['CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID']);
/** Return values that may mean the device went away (SoftHSM2: CKR_GENERAL_ERROR on a deleted token): checked. */
export const MAYBE_GONE: ReadonlySet<string> = new Set(['CKR_GENERAL_ERROR', 'CKR_DEVICE_ERROR', 'CKR_FUNCTION_FAILED', 'CKR_OBJECT_HANDLE_INVALID']);

/** At most this many serials are named in a `token_ambiguous` refusal (a module may hold many partitions). */
const MAX_SERIALS_SHOWN = 8;

/**
 * Review 162: two tokens matching the selection (the same label, and the URI's other attributes) are refused, never
 * the first listed taken: which one comes first is the module's order (SoftHSM2 lists slots by an ID derived from
 * the serial), so a second token with the folder's label could be taken for it, and a key missing there for a key
 * destroyed. Serials are not secret; with them the operator adds `;serial=` (RFC 7512 §2.3) to the URI.
 */
const ambiguous = (token: Pkcs11Uri['token'], serials: readonly string[]): CredenceError => {
  const shown = serials.slice(0, MAX_SERIALS_SHOWN).map((s) => JSON.stringify(s)).join(', ');
  const more = serials.length > MAX_SERIALS_SHOWN ? ` and ${serials.length - MAX_SERIALS_SHOWN} more` : '';
  // Tokens that share a serial too (cloned partitions) cannot be told apart by it: said, so `;serial=` is not tried in vain.
  const shared = new Set(serials).size < serials.length ? '; some share a serial: tell them apart with ;manufacturer= or ;model=, or give one another label' : '';
  const given = token.serial !== undefined ? ` with serial ${JSON.stringify(token.serial)}` : '';
  return pkcs11Problem(
    'token',
    'token_ambiguous',
    `${serials.length} initialised tokens in this module are labelled ${JSON.stringify(token.label)}${given} (and match the URI's other attributes), serials ${shown}${more}: Credence does not pick one; name it with ;serial=<serial> in the URI (pkcs11:token=${encodeURIComponent(token.label)};serial=…)${shared}`,
  );
};

/**
 * The slot whose token matches the URI's label (and serial, manufacturer, model when given), and that token's
 * serial number: a recovery looks for the same token again by label and serial (a token initialised anew under
 * the same label is another token). More than one match is refused (`ambiguous`), before any session is opened.
 */
export const findTokenSlot = (module: Pkcs11, token: Pkcs11Uri['token']): { slot: Pkcs11Handle; serial: string } => {
  const found: { slot: Pkcs11Handle; serial: string }[] = [];
  for (const slot of module.C_GetSlotList(true)) {
    const info = tokenInfo(module, slot);
    if (info === undefined) continue;
    if (trimmed(info.label) !== token.label) continue;
    if (token.serial !== undefined && trimmed(info.serialNumber) !== token.serial) continue;
    if (token.manufacturer !== undefined && trimmed(info.manufacturerID) !== token.manufacturer) continue;
    if (token.model !== undefined && trimmed(info.model) !== token.model) continue;
    found.push({ slot, serial: trimmed(info.serialNumber) });
  }
  if (found.length > 1) throw ambiguous(token, found.map((f) => f.serial));
  if (found[0] !== undefined) return found[0];
  const serial = token.serial !== undefined ? ` with serial "${token.serial}"` : '';
  throw pkcs11Problem('token', 'token_present', `no initialised token labelled "${token.label}"${serial} (and the URI's other attributes) in this module`);
};

/** What C_Login answers of the PIN itself, other than a wrong or locked one: the operator acts on the PIN, not the token. */
const PIN_STATES: Readonly<Record<string, readonly [rule: string, what: string]>> = {
  CKR_PIN_EXPIRED: ['pin_expired', 'the token says the user PIN has expired (CKR_PIN_EXPIRED): change it on the token, then in its source'],
  CKR_PIN_INVALID: ['pin_invalid', 'the token says the PIN holds characters it does not accept (CKR_PIN_INVALID)'],
  CKR_PIN_LEN_RANGE: ['pin_length', 'the token says the PIN is shorter or longer than it accepts (CKR_PIN_LEN_RANGE)'],
};

/**
 * C_Login as the user; a wrong PIN is a typed error naming where the PIN came from, never the PIN. When the token
 * is already logged in (another Secure Environment of this process on it), the PIN is compared with the one that
 * logged in: a match is the token's own answer; another PIN is `pin_unverified`, not `pin_incorrect` (review 116):
 * the token cannot check it while that login lasts, and after a change of the PIN it may well be the right one, so it
 * is neither called wrong nor remembered as refused. On a module another component initialised (`markForeign`), a
 * login that is not ours is `pin_unverified` too: Credence's PIN was never checked (review 457 F1).
 */
export const login = (module: Pkcs11, slot: Pkcs11Handle, session: Pkcs11Handle, pin: { value: string; from: string }): void => {
  // A PIN may end in a space, but one that does is most often a stray one (`echo PIN > file` on Windows): said, so the
  // operator looks there first (review 117). A tab or another control character never gets here (pin_characters).
  const blank = /\s$/u.test(pin.value) ? '; the PIN read ends in a space, which is sent as part of it' : '';
  const incorrect = () => pkcs11Problem('pin-source', 'pin_incorrect', `the token refused the PIN from ${pin.from} (CKR_PIN_INCORRECT)${blank}`);
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
      if (known === undefined && foreign.has(module)) {
        throw pkcs11Problem(
          'pin-source',
          'pin_unverified',
          `another component of this process initialised the PKCS#11 module and is logged in to the token, so the token cannot check the PIN from ${pin.from} while that login lasts: Credence does not take that component's login for its own: end that login, or leave the module to Credence alone`,
        );
      }
      // A login of ours on this module (another Secure Environment): the PIN must be the one it logged in with. None
      // recorded on a module Credence initialised: the token's word only.
      if (known !== undefined && !timingSafeEqual(known, digest)) {
        throw pkcs11Problem(
          'pin-source',
          'pin_unverified',
          `this process is logged in to the token with another PIN than the one from ${pin.from}, and the token cannot check this one while that login lasts: after a change of the PIN, restart the service so that it logs in with the new one`,
        );
      }
      return;
    }
    if (code === 'CKR_PIN_INCORRECT') throw incorrect();
    if (code === 'CKR_PIN_LOCKED') throw pkcs11Problem('pin-source', 'pin_locked', 'the user PIN of this token is locked (CKR_PIN_LOCKED): the security officer must reset it');
    const state = code === undefined ? undefined : PIN_STATES[code];
    if (state !== undefined) throw pkcs11Problem('pin-source', state[0], `${state[1]}; the PIN came from ${pin.from}`);
    throw pkcs11Problem('pin-source', 'login', `C_Login failed (${code ?? 'unknown error'})`);
  }
};
