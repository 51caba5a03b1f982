import { p256 } from '@noble/curves/nist.js';

/** The port's rules and byte formats are in ../port-checks.ts, shared with the embedded Secure Environment. */

const N = p256.Point.CURVE().n;
/**
 * A CKM_ECDSA signature (r || s, 64 bytes, PKCS#11 v3.0 §2.3.1) in the one form the port promises: low S
 * (s > n/2 replaced by n - s), so it verifies under domain/crypto/signatures.ts and cannot be mutated.
 */
export const lowS = (signature: Uint8Array): Uint8Array => {
  if (signature.length !== 64) throw new TypeError(`CKM_ECDSA returned ${signature.length} bytes, expected 64`);
  const s = BigInt(`0x${Buffer.from(signature.subarray(32)).toString('hex')}`);
  if (s <= N >> 1n) return signature;
  const out = signature.slice();
  out.set(Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex'), 32);
  return out;
};
