import { z } from 'zod';
import { base64urlString, tryFromBase64urlOfLength } from '../crypto/base64url.ts';
import { CredentialKind, Identifier, IsoTimestamp } from '../crypto/credential.ts';
import { Fingerprint } from '../crypto/fingerprint.ts';
import { HASH_LENGTH, MAX_PUBLIC_KEY_LENGTH } from '../crypto/sizes.ts';
import { Ephemeral } from './ephemeral.ts';
import { Nonce, Proof, SessionId } from './protocol.ts';
import { KeyHandle } from '../ports/secure-environment.ts';

/**
 * Association configuration and handshake (seed 003 clause 11.3; SER-009 mutual authentication, SER-012 replay).
 * Registree (CSE or AE, R) and Registrar CSE (C):
 *   1. R->C hello      identities, credential fingerprint, R nonce, requested lifetime, R ephemeral (asymmetric)
 *   2. C->R challenge  C nonce, granted lifetime, C ephemeral (asymmetric); C's proof over the transcript
 *   3. R->C finish     R's proof over the transcript
 * PSK credentials: proofs are HMACs with the PSK and the session key is HKDF(PSK, salt = transcript hash).
 * Ed25519/P-256 credentials: proofs are signatures, and the session key is HKDF over an ephemeral ECDH secret
 * (forward secrecy) with the transcript hash as salt. Both ends derive the same key inside their Secure Environments.
 */

/** Clause 11.3.1 "Association Configuration": the non-secret facts a Registree needs before its handshake. */
export const AssociationConfiguration = z.strictObject({
  registrarId: Identifier,
  /** Authenticates the Registrar CSE when the Registree's credential is asymmetric. */
  registrarKey: z
    .strictObject({ kind: z.enum(['ed25519', 'p256']), publicKey: base64urlString({ max: MAX_PUBLIC_KEY_LENGTH }) })
    .refine((k) => tryFromBase64urlOfLength(k.publicKey, k.kind === 'ed25519' ? 32 : 65) !== undefined, {
      message: 'public key length does not fit its kind',
      path: ['publicKey'],
    })
    .optional(),
});
export type AssociationConfiguration = z.infer<typeof AssociationConfiguration>;

/** Ten years: far beyond any credential; the Registrar cuts it to the credential anyway. */
const MAX_LIFETIME_SECONDS = 10 * 366 * 24 * 3600;

export const AssociationHello = z
  .strictObject({
    type: z.literal('association.hello'),
    version: z.literal(1),
    registreeId: Identifier,
    registrarId: Identifier,
    credential: z.strictObject({ kind: CredentialKind, fingerprint: Fingerprint }),
    registreeNonce: Nonce,
    ephemeral: Ephemeral.optional(),
    requestedLifetimeSeconds: z.int().min(1).max(MAX_LIFETIME_SECONDS),
    sentAt: IsoTimestamp,
  })
  .refine((m) => (m.credential.kind === 'psk256') === (m.ephemeral === undefined), {
    message: 'an ephemeral key is required exactly for asymmetric credentials',
    path: ['ephemeral'],
  });
export type AssociationHello = z.infer<typeof AssociationHello>;

export const AssociationChallenge = z.strictObject({
  type: z.literal('association.challenge'),
  version: z.literal(1),
  sessionId: SessionId,
  registrarId: Identifier,
  registreeId: Identifier,
  registreeNonce: Nonce,
  registrarNonce: Nonce,
  ephemeral: Ephemeral.optional(),
  lifetimeSeconds: z.int().min(1).max(MAX_LIFETIME_SECONDS),
  expiresAt: IsoTimestamp,
  proof: Proof,
});
export type AssociationChallenge = z.infer<typeof AssociationChallenge>;

export const AssociationFinish = z.strictObject({
  type: z.literal('association.finish'),
  version: z.literal(1),
  sessionId: SessionId,
  registrarNonce: Nonce,
  proof: Proof,
});
export type AssociationFinish = z.infer<typeof AssociationFinish>;

/**
 * An established security association as either end sees it, for an `AssociationEstablished` event: public
 * facts plus the handle of the session key in that end's own Secure Environment (the engine destroys it when the
 * association ends). Both ends' outcomes agree on everything but `sessionKeyHandle` and `side`.
 */
export const AssociationOutcome = z.strictObject({
  associationId: SessionId,
  side: z.enum(['registrar', 'registree']),
  registrarId: Identifier,
  registreeId: Identifier,
  credential: z.strictObject({ kind: CredentialKind, fingerprint: Fingerprint }),
  sessionKeyHandle: KeyHandle,
  transcriptHash: base64urlString(HASH_LENGTH),
  establishedAt: IsoTimestamp,
  lifetimeSeconds: z.int().min(1),
  expiresAt: IsoTimestamp,
});
export type AssociationOutcome = z.infer<typeof AssociationOutcome>;
