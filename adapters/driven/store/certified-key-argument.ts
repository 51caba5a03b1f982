/** A key's SubjectPublicKeyInfo fingerprint as every credential records it (domain/events/common.ts Fingerprint). */
const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/**
 * A key fingerprint a caller passes (SER-010: `keyCertifiedBy`'s argument, `AppendOptions.certifiesKey`), checked at
 * the call as the other append arguments are: a caller's mistake throws naming the argument, before anything is sent
 * or written.
 */
export function checkFingerprint(value: unknown, name: string): string {
  if (typeof value !== 'string' || !FINGERPRINT.test(value)) throw new Error(`${name}: must be a key fingerprint, sha256:<64 lower-case hex>`);
  return value;
}

/** `AppendOptions.certifiesKey`: absent, or a key fingerprint. */
export const checkCertifiesKey = (value: unknown): string | undefined => (value === undefined ? undefined : checkFingerprint(value, 'options.certifiesKey'));

/** A value read back from a stored event (not a caller's argument): a key fingerprint or not, never an error. */
export const isFingerprint = (value: unknown): value is string => typeof value === 'string' && FINGERPRINT.test(value);
