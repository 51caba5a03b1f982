import { z } from 'zod';
import { base64urlString, tryFromBase64urlOfLength } from '../crypto/base64url.ts';
import { CredentialKind, Identifier, IsoTimestamp } from '../crypto/credential.ts';
import { Fingerprint } from '../crypto/fingerprint.ts';
import { HASH_LENGTH, MAX_PUBLIC_KEY_LENGTH } from '../crypto/sizes.ts';
import { Ephemeral } from './ephemeral.ts';
import { Nonce, Proof, SessionId } from './protocol.ts';
import { AssociationVersion } from './association-version.ts';
import { KeyHandle } from '../ports/secure-environment.ts';

/**
 * Association configuration and handshake (seed 003 clause 11.3; SER-009 mutual authentication, SER-012 replay).
 * Registree (CSE or AE, R) and Registrar CSE (C), modelled on TLS 1.3 (RFC 8446):
 *   1. R->C hello      identities, credential fingerprint, the key exchange mode, R nonce, R ephemeral, requested lifetime
 *   2. C->R challenge  C nonce, C ephemeral; C's proof over the transcript
 *   3. R->C finish     R's proof over the transcript, and R's key confirmation (a Finished MAC, RFC 8446 4.4.4)
 *   4. C->R confirm    the granted lifetime and expiry, and C's key confirmation over the transcript through them,
 *                      sent once C has verified R's proof and Finished MAC
 * Proofs authenticate with the credential: HMACs with a PSK, signatures with an Ed25519/P-256 key. Every run does
 * an ephemeral ECDH, in PSK mode too (`psk_dhe_ke`, RFC 8446 4.2.9: a PSK compromised later does not reveal past
 * session keys); the PSK-only mode (`psk_ke`) is not offered. The mode is not negotiated: it follows from the
 * credential's kind (the schema refuses any other pairing as malformed), and kind and mode are both in the transcript
 * every proof covers, so neither can be downgraded in transit.
 * The challenge answers a hello no one has authenticated yet (a Registree id and a public fingerprint are enough to
 * send one), so it tells nothing of the credential beyond what the hello carried (seeds 002/004 unobservability;
 * SER-001), not even whether it can be used: a hello whose credential cannot be used (unknown, revoked, expired, ...)
 * gets a decoy challenge of the same shape, refused at its finish (adapters/protocols/shared/decoy.ts). The lifetime, which is cut to the credential's notAfter (association-lifetime.ts), is granted once the
 * Registree's proof has verified, in the confirm, and a credential with no lifetime left is refused there
 * (`lifetime_exhausted`), to a peer that has proved it holds it. The confirm's key confirmation covers the grant: no
 * one on the path can change it. Every message is version 2 (association-version.ts); version 1 granted the lifetime
 * in the challenge.
 * Both ends derive, inside their Secure Environments, one key per direction and one Finished key per side
 * (adapters/protocols/association/session-key.ts has the key schedule). The Registree reports the association
 * established only after it verified the Registrar's confirm and its grant; the Registrar only after it verified
 * the finish.
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

/**
 * How the handshake secret is made: `psk_dhe_ke` (RFC 8446 4.2.9) for a PSK credential, the PSK and an ephemeral
 * ECDH secret together; `signature_dhe` for an Ed25519/P-256 credential, the ephemeral ECDH secret, both ends
 * authenticated by signatures. There is no PSK-only mode (`psk_ke`): it would give no forward secrecy.
 */
export const KeyExchange = z.enum(['psk_dhe_ke', 'signature_dhe']);
export type KeyExchange = z.infer<typeof KeyExchange>;
export const keyExchangeFor = (kind: CredentialKind): KeyExchange => (kind === 'psk256' ? 'psk_dhe_ke' : 'signature_dhe');

export const AssociationHello = z
  .strictObject({
    type: z.literal('association.hello'),
    version: AssociationVersion,
    registreeId: Identifier,
    registrarId: Identifier,
    /**
     * The configured association this handshake is for, when the Registree names it (over a connection it must: the
     * Registrar refuses a hello whose association is not the one its path names). In the hello, so every proof of
     * the run covers it: no one on the path can move a handshake onto another association of the same credential.
     */
    associationId: Identifier.optional(),
    credential: z.strictObject({ kind: CredentialKind, fingerprint: Fingerprint }),
    keyExchange: KeyExchange,
    registreeNonce: Nonce,
    ephemeral: Ephemeral,
    requestedLifetimeSeconds: z.int().min(1).max(MAX_LIFETIME_SECONDS),
    sentAt: IsoTimestamp,
  })
  .refine((m) => m.keyExchange === keyExchangeFor(m.credential.kind), {
    message: 'the key exchange must be psk_dhe_ke for a PSK credential and signature_dhe otherwise',
    path: ['keyExchange'],
  });
export type AssociationHello = z.infer<typeof AssociationHello>;

export const AssociationChallenge = z.strictObject({
  type: z.literal('association.challenge'),
  version: AssociationVersion,
  sessionId: SessionId,
  registrarId: Identifier,
  registreeId: Identifier,
  registreeNonce: Nonce,
  registrarNonce: Nonce,
  ephemeral: Ephemeral,
  proof: Proof,
});
export type AssociationChallenge = z.infer<typeof AssociationChallenge>;

/** An HMAC-SHA256 tag with a Finished key (RFC 8446 4.4.4): proves its sender derived the same keys. */
const KeyConfirmation = base64urlString(HASH_LENGTH);

export const AssociationFinish = z.strictObject({
  type: z.literal('association.finish'),
  version: AssociationVersion,
  sessionId: SessionId,
  registrarNonce: Nonce,
  proof: Proof,
  keyConfirmation: KeyConfirmation,
});
export type AssociationFinish = z.infer<typeof AssociationFinish>;

/**
 * The Registrar's answer to a verified finish: the lifetime it grants (`associationLifetime`: the requested one cut
 * to the credential) and its own key confirmation, a Finished MAC over the transcript through this message, so over
 * the grant too; the Registree waits for both.
 */
export const AssociationConfirm = z.strictObject({
  type: z.literal('association.confirm'),
  version: AssociationVersion,
  sessionId: SessionId,
  registreeNonce: Nonce,
  lifetimeSeconds: z.int().min(1).max(MAX_LIFETIME_SECONDS),
  expiresAt: IsoTimestamp,
  keyConfirmation: KeyConfirmation,
});
export type AssociationConfirm = z.infer<typeof AssociationConfirm>;

/**
 * An established security association as either end sees it, for an `AssociationEstablished` event: public
 * facts plus the handles of the two session keys in that end's own Secure Environment (the engine destroys them
 * when the association ends): `send` protects what this end sends, `receive` what it receives, so one end's send
 * key is the other's receive key and the two directions never share a key. Both ends' outcomes agree on
 * everything but `sessionKeys` and `side`.
 */
export const AssociationOutcome = z.strictObject({
  associationId: SessionId,
  side: z.enum(['registrar', 'registree']),
  registrarId: Identifier,
  registreeId: Identifier,
  credential: z.strictObject({ kind: CredentialKind, fingerprint: Fingerprint }),
  sessionKeys: z.strictObject({ send: KeyHandle, receive: KeyHandle }),
  transcriptHash: base64urlString(HASH_LENGTH),
  establishedAt: IsoTimestamp,
  lifetimeSeconds: z.int().min(1),
  expiresAt: IsoTimestamp,
});
export type AssociationOutcome = z.infer<typeof AssociationOutcome>;
