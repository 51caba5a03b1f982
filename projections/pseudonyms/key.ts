import type { KeyHandle, SecureEnvironment } from '../../adapters/secure-environment/index.ts';

/**
 * The keyed PRF behind every pseudonym. The key itself stays in the Secure Environment (seed 004: applications
 * hold key handles, never keys); this side only ever sees PRF outputs.
 */
export interface PseudonymKey {
  /** HMAC-SHA256 of `message` under the pseudonym key: 32 bytes. */
  prf(message: Uint8Array): Promise<Uint8Array>;
}

/** The PRF as the Secure Environment's MAC on a psk256 handle owned by `owner`. */
export const secureEnvironmentPseudonymKey = (
  se: Pick<SecureEnvironment, 'mac'>,
  owner: string,
  handle: KeyHandle,
): PseudonymKey => ({ prf: (message) => se.mac(owner, handle, message) });
