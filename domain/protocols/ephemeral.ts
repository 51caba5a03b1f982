import { z } from 'zod';
import { isValidAgreementPublicKey, type AgreementGroup } from '../crypto/agreement.ts';
import { base64urlString, fromBase64url, tryFromBase64urlOfLength } from '../crypto/base64url.ts';
import { MAX_PUBLIC_KEY_LENGTH } from '../crypto/sizes.ts';
import type { CredentialKind } from '../crypto/credential.ts';
import { protocolFailure } from './protocol.ts';

/**
 * An ephemeral ECDH public key as both protocols carry it: PSK delivery in remote provisioning (seed 003 clause
 * 11.2.1), forward secrecy in the association handshake (clause 11.3). The length check is only the cheap part;
 * whether the bytes are a point of the group is asked of `isValidAgreementPublicKey` at the step that receives it.
 */
export const Ephemeral = z
  .strictObject({ group: z.enum(['x25519', 'p256']), publicKey: base64urlString({ max: MAX_PUBLIC_KEY_LENGTH }) })
  .refine((e) => tryFromBase64urlOfLength(e.publicKey, e.group === 'x25519' ? 32 : 65) !== undefined, {
    message: 'public key length does not fit the group',
    path: ['publicKey'],
  });
export type Ephemeral = z.infer<typeof Ephemeral>;

/** A P-256 credential points to a secure element built for P-256 (see agreement.ts); X25519 otherwise. */
export const ephemeralGroup = (credentialKind: CredentialKind, requested: AgreementGroup | undefined): AgreementGroup =>
  requested ?? (credentialKind === 'p256' ? 'p256' : 'x25519');

/**
 * A peer ephemeral must be a point of its group before it reaches an ECDH (an off-curve P-256 key is the
 * invalid-curve attack), and an X25519 one no low-order or non-canonical u (checkPublicKey, review 207): refused at
 * the hello, before any run's key is made. `agreeOrRefuse` still refuses an all-zero shared secret.
 */
export const assertValidEphemeral = (step: string, ephemeral: Ephemeral | undefined): void => {
  if (ephemeral && !isValidAgreementPublicKey(ephemeral.group, fromBase64url(ephemeral.publicKey))) {
    throw protocolFailure(step, 'invalid_ephemeral_key');
  }
};

/**
 * The responder's ephemeral, checked by the initiator against its own offer: present exactly when one was offered,
 * in the offered group, a valid point. Returns its public key bytes for the key agreement.
 */
export const acceptEphemeralAnswer = (step: string, offered: Ephemeral | undefined, answer: Ephemeral | undefined): Uint8Array | undefined => {
  if ((answer === undefined) !== (offered === undefined) || (answer && answer.group !== offered?.group)) {
    throw protocolFailure(step, 'invalid_ephemeral_key');
  }
  assertValidEphemeral(step, answer);
  return answer && fromBase64url(answer.publicKey);
};
