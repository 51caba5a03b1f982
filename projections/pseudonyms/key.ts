import { isKeyNotFound, type CredenceError } from '../../domain/errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../domain/ports/index.ts';

/**
 * The keyed PRF behind every pseudonym. The key itself stays in the Secure Environment (seed 004: applications
 * hold key handles, never keys); this side only ever sees PRF outputs.
 */
export interface PseudonymKey {
  /** HMAC-SHA256 of `message` under the pseudonym key: 32 bytes. */
  prf(message: Uint8Array): Promise<Uint8Array>;
  /**
   * The PRF of each message, in order, in one call (a rotation round derives a whole fleet's pseudonyms).
   * Optional: without it the deriver calls `prf` once per message.
   */
  prfMany?(messages: readonly Uint8Array[]): Promise<Uint8Array[]>;
}

/**
 * The PRF as the Secure Environment's MAC on a psk256 handle of the view's owner (the view is bound by whoever
 * wires this). The handle may be found (or made) on first use: `handle` is then a function, called until it succeeds. When
 * the environment can MAC many messages per call (`macMany`: the key opened once), `prfMany` uses it; the key
 * still never leaves the environment. A key the environment does not hold is said as `missing` says it (naming the
 * key, where it is recorded and what to do), rather than as the bare `not_found` of its handle.
 */
export const secureEnvironmentPseudonymKey = (
  se: Pick<OwnedSecureEnvironment, 'mac'> & Partial<Pick<OwnedSecureEnvironment, 'macMany'>>,
  handle: KeyHandle | (() => Promise<KeyHandle>),
  missing?: (handle: KeyHandle) => CredenceError,
): PseudonymKey => {
  let resolved: Promise<KeyHandle> | undefined;
  const key = (): Promise<KeyHandle> => {
    if (resolved !== undefined) return resolved;
    const finding = typeof handle === 'function' ? handle() : Promise.resolve(handle);
    resolved = finding;
    // A failed find (the Secure Environment away for a moment, the registry's write refused) is not kept: the next
    // derivation looks again, instead of every pseudonym of the process failing until a restart.
    finding.catch(() => {
      if (resolved === finding) resolved = undefined;
    });
    return finding;
  };
  /**
   * `run` on the key. The handle stays resolved when the key is missing: it is still the one the pseudonyms were
   * derived with, and the next derivation uses it again once the key is back (restored, not made anew).
   */
  const onKey = async <T>(run: (handle: KeyHandle) => Promise<T>): Promise<T> => {
    const resolvedHandle = await key();
    return run(resolvedHandle).catch((error: unknown) => {
      throw missing !== undefined && isKeyNotFound(error, resolvedHandle) ? missing(resolvedHandle) : error;
    });
  };
  return {
    prf: (message) => onKey((h) => se.mac(h, message)),
    ...(se.macMany !== undefined ? { prfMany: (messages: readonly Uint8Array[]) => onKey((h) => se.macMany!(h, messages)) } : {}),
  };
};
