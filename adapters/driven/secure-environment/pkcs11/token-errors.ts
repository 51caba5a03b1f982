import { CredenceError, secureEnvironmentUnsupported } from '../../../../domain/errors.ts';
import { ckr, MAYBE_GONE, mechanismUnsupported, OBJECT_GONE, pkcs11js, pkcs11Problem, pkcs11Unavailable, SESSION_LOST, type Pkcs11Template } from './module.ts';

/** What a token answers to a key template it will not make, e.g. a CKA_LABEL longer than it allows. */
const TEMPLATE_REFUSED: ReadonlySet<string> = new Set(['CKR_ATTRIBUTE_VALUE_INVALID', 'CKR_TEMPLATE_INCONSISTENT', 'CKR_ATTRIBUTE_TYPE_INVALID']);
const templateRefused = (method: string, code: string, template: Pkcs11Template) => {
  const label = template.find((attribute) => attribute.type === pkcs11js.CKA_LABEL)?.value;
  const length = typeof label === 'string' ? ` (its CKA_LABEL is ${Buffer.byteLength(label, 'utf8')} bytes: a token that limits labels below that cannot hold it)` : '';
  return secureEnvironmentUnsupported('template_refused', `${method} failed: ${code}: the token refused the key's template${length}; docs/hsm.md "Key labels and token limits"`, { returnValue: code });
};
/** Refusals of the PIN itself: a recovery reports them as they are (the operator must act on the PIN, not the HSM). */
const PIN_RULES: ReadonlySet<string> = new Set([
  'pin_incorrect', 'pin_locked', 'pin_final_try', 'pin_file', 'pin_present', 'pin_length', 'pin_characters', 'pin_expired', 'pin_invalid',
  'pin_unverified',
]);
/** The rule of one of our refusals: a `validation` issue's, or the reason the token is unavailable. */
const ruleOf = (error: unknown): string | undefined => {
  if (!(error instanceof CredenceError)) return undefined;
  const { problem } = error;
  if (problem.code === 'validation') return problem.issues[0]?.rule;
  return problem.code === 'secure_environment_unavailable' ? problem.reason : undefined;
};
export const isPinRefusal = (error: unknown): boolean => PIN_RULES.has(ruleOf(error) ?? '');
export const reasonOf = (error: unknown): string =>
  error instanceof CredenceError && error.problem.code === 'validation'
    ? (error.problem.issues[0]?.message ?? error.message)
    : error instanceof CredenceError
      ? error.message
      : (ckr(error) ?? (error as Error).message);

/**
 * A PIN refused at a login after the Secure Environment opened (a recovery's): the token cannot be used until its
 * operator acts (a locked PIN reset, the PIN's source mended), which is the service's condition, not a caller's.
 */
export const pinRefusedAtRecovery = (error: unknown, label: string): CredenceError =>
  pkcs11Unavailable(ruleOf(error) ?? 'login', `token "${label}" could not be logged in to again: ${reasonOf(error)}`);

/**
 * Faults the token (or its module, in our host's memory) reports of itself while the session still serves (PKCS#11
 * v2.40 §5.1): retried later, not refused. CKR_FUNCTION_FAILED is MAYBE_GONE's: on a session still serving, the
 * device failed the call for its own reasons (review 147: it was a 400 blaming the caller).
 */
const DEVICE_FAULT: ReadonlySet<string> = new Set(['CKR_DEVICE_ERROR', 'CKR_DEVICE_MEMORY', 'CKR_GENERAL_ERROR', 'CKR_FUNCTION_FAILED', 'CKR_HOST_MEMORY']);
/**
 * What the token answers of the message a caller gave it to sign or MAC (C_Sign, C_Verify; the port checked its type,
 * not the length a token takes): the caller's input, refused as such. No other CKR_* is the caller's: the port checks
 * every other argument before the token sees it (a peer public key is a point of its curve, a handle is one we made).
 */
const CALLER_DATA: ReadonlySet<string> = new Set(['CKR_DATA_LEN_RANGE', 'CKR_DATA_INVALID']);

/**
 * The calls that make a key object, and the faults a token out of storage answers them with (review 269: SoftHSM2 on
 * a full disk answers CKR_FUNCTION_FAILED; HSMs CKR_DEVICE_MEMORY or CKR_DEVICE_ERROR): said as a likely cause, since
 * the value alone reads as a broken device.
 */
const MAKES_OBJECTS: ReadonlySet<string> = new Set(['C_GenerateKeyPair', 'C_GenerateKey', 'C_DeriveKey', 'C_UnwrapKey', 'C_CreateObject', 'C_CopyObject']);
const OUT_OF_STORAGE: ReadonlySet<string> = new Set(['CKR_FUNCTION_FAILED', 'CKR_DEVICE_MEMORY', 'CKR_DEVICE_ERROR']);
const OUT_OF_STORAGE_HINT =
  '; on a call that makes a key object this is also what a token out of storage answers: free space on it (or destroy keys no longer needed) and try again';

/** The session (or the device under it) is gone; the Secure Environment reopens it once and retries (docs/hsm.md). */
export const isSessionLost = (error: unknown): boolean => ruleOf(error) === 'session_lost';

/** A key object used by the operation was destroyed meanwhile (OBJECT_GONE): the Secure Environment looks again, once. */
export const isObjectGone = (error: unknown): boolean => ruleOf(error) === 'object_gone';

/** A vendor error while opening, as a typed `token_error` naming the function and the CKR_* value (never an argument). */
export const opening = <T>(step: string, work: () => T): T => {
  try {
    return work();
  } catch (error) {
    const code = ckr(error);
    if (code === undefined) throw error;
    throw pkcs11Problem('token', 'token_error', `${step} failed: ${code}`);
  }
};

/**
 * A vendor error out of PKCS#11 calls on a session, as the error to throw (token-session.ts `run`): ours and
 * programming mistakes as they are; a lost session (SESSION_LOST, or a device that no longer answers: `serves()`
 * false) as `lost(detail)`; a key object gone, a mechanism refused, a template refused (`creating`: the template of
 * the object the calls make) each named; the caller's message refused (CALLER_DATA) a `validation` issue on
 * `message`; a fault the device reports of itself (DEVICE_FAULT) `device_error`, and any other CKR_* `token_error`,
 * both `secure_environment_unavailable` naming the function and the value. `called`: the last C_* function the calls
 * entered (token-session.ts records it), the one that failed: pkcs11js sets no `method` on its errors (review 269: the
 * message said only "a PKCS#11 call").
 */
export const callError = (
  error: unknown,
  creating: Pkcs11Template | undefined,
  serves: () => boolean,
  lost: (detail: string) => CredenceError,
  called?: string,
): unknown => {
  if (error instanceof CredenceError || error instanceof TypeError) return error;
  const code = ckr(error);
  const method = (error as { method?: string }).method || called || 'a PKCS#11 call';
  if (code !== undefined && (SESSION_LOST.has(code) || (MAYBE_GONE.has(code) && !serves()))) return lost(`${method} failed: ${code}`);
  if (code !== undefined && OBJECT_GONE.has(code)) {
    // SoftHSM2 answers a logged-out session's use of a private key so too: only a session still serving means the key went.
    if (!serves()) return lost(`${method} failed: ${code}`);
    return pkcs11Problem('handle', 'object_gone', `${method} failed: ${code}: the key object is no longer in the token`);
  }
  if (code === 'CKR_MECHANISM_INVALID') return mechanismUnsupported(undefined, 'the token refused a mechanism (CKR_MECHANISM_INVALID)', code);
  if (code !== undefined && creating !== undefined && TEMPLATE_REFUSED.has(code)) return templateRefused(method, code, creating);
  if (code !== undefined && CALLER_DATA.has(code)) {
    return pkcs11Problem('message', code.slice('CKR_'.length).toLowerCase(), `${method} failed: ${code}: the token refused the message given to it (its length or its content)`);
  }
  if (code !== undefined && DEVICE_FAULT.has(code)) {
    const storage = OUT_OF_STORAGE.has(code) && (creating !== undefined || MAKES_OBJECTS.has(method)) ? OUT_OF_STORAGE_HINT : '';
    return pkcs11Unavailable('device_error', `${method} failed: ${code}: the token reports a fault of its own${storage}`);
  }
  // Not the caller's (review 147: a 400 `token`/`token_error`, read as the caller's bearer token). 503 rather than a
  // 500: vendor modules answer passing conditions with values v2.40 does not list for them (CKR_VENDOR_DEFINED, a
  // network HSM's dropped link: docs/hsm.md), and the next operation tries its own recovery; one that keeps failing
  // is in the log with its value, for the operator.
  return pkcs11Unavailable('token_error', `${method} failed: ${code ?? (error as Error).message}`);
};
