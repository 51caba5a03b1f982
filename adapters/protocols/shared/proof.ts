import { tryFromBase64url, toBase64url } from '../../../domain/crypto/base64url.ts';
import { verifySignature } from '../../../domain/crypto/signatures.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../../../domain/ports/secure-environment.ts';
import { protocolFailure } from '../../../domain/protocols/protocol.ts';

/**
 * Authenticating a protocol transcript with a credential held in a Secure Environment: an HMAC-SHA256 tag for a
 * PSK, a signature for an Ed25519 / P-256 key. Shared by remote provisioning and the association handshake.
 */
export type CredentialKey = { readonly kind: 'psk256' | 'ed25519' | 'p256'; readonly handle: KeyHandle };

/** How the other side's proof is checked: its shared PSK (our handle) or its public key. */
export type ProofVerifier =
  | { readonly kind: 'psk256'; readonly handle: KeyHandle }
  | { readonly kind: 'ed25519' | 'p256'; readonly publicKey: Uint8Array };

/** The PSK handle a verifier checks with, if it is one. */
export const pskOf = (verifier: ProofVerifier): KeyHandle | undefined => (verifier.kind === 'psk256' ? verifier.handle : undefined);

/** Base64url proof over `input`. */
export const prove = async (se: OwnedSecureEnvironment, key: CredentialKey, input: Uint8Array): Promise<string> =>
  toBase64url(key.kind === 'psk256' ? await se.mac(key.handle, input) : await se.sign(key.handle, input));

/** False for a proof that does not check, including one that is not even base64url. */
export const checkProof = async (
  se: OwnedSecureEnvironment,
  verifier: ProofVerifier,
  input: Uint8Array,
  proof: string,
): Promise<boolean> => {
  const bytes = tryFromBase64url(proof);
  if (bytes === undefined) return false;
  return verifier.kind === 'psk256'
    ? se.verifyMac(verifier.handle, input, bytes)
    : verifySignature(verifier.kind, verifier.publicKey, input, bytes);
};

/** The protocol reason a failed check of this verifier's proof is reported as. */
export const proofFailure = (verifier: { readonly kind: string }): 'bad_mac' | 'bad_signature' =>
  verifier.kind === 'psk256' ? 'bad_mac' : 'bad_signature';

/** A proof that does not check refuses the step; `detail` says whose authentication failed. */
export const assertProof = async (
  se: OwnedSecureEnvironment,
  verifier: ProofVerifier,
  input: Uint8Array,
  proof: string,
  step: string,
  detail: string,
): Promise<void> => {
  if (!(await checkProof(se, verifier, input, proof))) throw protocolFailure(step, proofFailure(verifier), detail);
};
