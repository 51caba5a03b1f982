import { p256 } from '@noble/curves/nist.js';
import { concatBytes, utf8 } from '../../../../domain/crypto/bytes.ts';
import type { KeyKind, KeyOptions, KeyUsage } from '../../../../domain/ports/secure-environment.ts';
import type { KeyLabel } from './token-objects.ts';

/**
 * The port's rules, the same as the embedded Secure Environment's (the conformance suite holds both to them), and
 * its byte formats: seal/wrap AAD labels must match embedded.ts exactly, because a box sealed by an HSM-backed
 * Enrolment Function is opened by a device's embedded Secure Environment.
 */
export const KEY_LENGTH = 32;
export const wrapAad = (kind: KeyKind, aad: Uint8Array): Uint8Array => concatBytes(utf8(`credence/se/v1/wrap\0${kind}\0`), aad);
export const sealAad = (aad: Uint8Array): Uint8Array => concatBytes(utf8('credence/se/v1/seal\0'), aad);

export const requireOwner = (owner: string): void => {
  if (typeof owner !== 'string' || owner.length === 0) throw new TypeError('owner must be a non-empty string');
};

export const requireKind = <K extends KeyKind>(label: KeyLabel, operation: string, allowed: readonly K[]): K => {
  if (!(allowed as readonly KeyKind[]).includes(label.kind)) throw new TypeError(`handle: a ${label.kind} key cannot ${operation}`);
  return label.kind as K;
};

export const requireUsage = (label: KeyLabel, usage: KeyUsage): void => {
  if (label.usage !== usage) throw new TypeError(`handle: this ${label.kind} key is for ${label.usage ?? 'no usage'}, it cannot ${usage}`);
};

/** One usage per asymmetric key, fixed at generation (issue 11 item 9). */
export const usageFor = (kind: KeyKind, options: KeyOptions): KeyUsage | undefined => {
  const asked = options.usage;
  if (asked !== undefined && asked !== 'sign' && asked !== 'agree') throw new TypeError("options.usage must be 'sign' or 'agree'");
  const usage =
    kind === 'ed25519' ? 'sign' : kind === 'x25519' ? 'agree' : kind === 'p256' ? (asked ?? (options.ephemeral === true ? 'agree' : 'sign')) : undefined;
  if (asked !== undefined && asked !== usage) throw new TypeError(`options.usage: a ${kind} key cannot be for ${asked}`);
  return usage;
};

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
