import { fromBase64url } from '../../../domain/crypto/base64url.ts';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import type { SignatureKind } from '../../../domain/crypto/signatures.ts';
import type { KeyHandle } from '../../../domain/ports/secure-environment.ts';
import type { CredentialKey, ProofVerifier } from './proof.ts';
import { protocolFailure, unusableCredential } from '../../../domain/protocols/protocol.ts';

/**
 * Which keys authenticate a run follows from the initiator's credential: a PSK authenticates both sides (each with
 * its own handle of it); with an asymmetric credential the responder signs with its own key, which the initiator
 * has pinned. A missing pinned key is a configuration error (TypeError), not the peer's fault.
 */

/**
 * How the responder checks the initiator's proofs. A PSK credential the engine knows but this service holds no key
 * for (recorded through the commands API, provisioned elsewhere) cannot authenticate anyone here: refused at `step`
 * as an unknown credential, which is what an unauthenticated peer is told of any credential it cannot use
 * (`unusableCredential`; the service's log says which; the association Registrar and the Enrolment Function answer
 * a decoy challenge instead, decoy.ts).
 */
export const initiatorVerifier = (
  step: string,
  credential: { readonly descriptor: CredentialDescriptor; readonly handle?: KeyHandle | undefined },
): ProofVerifier => {
  const d = credential.descriptor;
  if (d.kind !== 'psk256') return { kind: d.kind, publicKey: fromBase64url(d.publicKey) };
  if (!credential.handle) throw unusableCredential(step, protocolFailure(step, 'unknown_credential', `this service holds no key for the PSK ${d.fingerprint}`));
  return { kind: 'psk256', handle: credential.handle };
};

/** What the responder proves itself with; without a signing key it refuses asymmetric credentials at `step`. */
export const responderSigner = (
  step: string,
  credential: { readonly descriptor: CredentialDescriptor; readonly handle?: KeyHandle | undefined },
  signingKey: (CredentialKey & { readonly kind: SignatureKind }) | undefined,
  missingSigningKey: string,
): CredentialKey => {
  if (credential.descriptor.kind === 'psk256') return { kind: 'psk256', handle: credential.handle as KeyHandle };
  if (!signingKey) throw protocolFailure(step, 'unsupported', missingSigningKey);
  return signingKey;
};

/** How the initiator checks the responder's proofs. */
export const responderVerifier = (
  credential: { readonly descriptor: CredentialDescriptor; readonly handle: KeyHandle },
  pinned: { readonly kind: SignatureKind; readonly publicKey: Uint8Array } | undefined,
  missingPinned: string,
): ProofVerifier => {
  if (credential.descriptor.kind === 'psk256') return { kind: 'psk256', handle: credential.handle };
  if (!pinned) throw new TypeError(missingPinned);
  return { kind: pinned.kind, publicKey: pinned.publicKey };
};

