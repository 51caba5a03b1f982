import { toBase64url } from '../crypto/base64url.ts';
import type { KeyHandle } from '../ports/secure-environment.ts';
import type { GrantedLifetime } from './association-lifetime.ts';
import type { AssociationChallenge, AssociationHello, AssociationOutcome } from './association-messages.ts';

/**
 * What one end of a completed handshake knows: the same facts on both ends (from the hello, the challenge, the grant
 * the confirm carried and the final transcript hash, which covers that grant), apart from which side it is and its
 * own handles of the session keys.
 */
export const associationOutcome = (
  side: AssociationOutcome['side'],
  hello: AssociationHello,
  challenge: AssociationChallenge,
  grant: GrantedLifetime,
  sessionKeys: { readonly send: KeyHandle; readonly receive: KeyHandle },
  transcriptHash: Uint8Array,
  now: Date,
): AssociationOutcome => ({
  associationId: challenge.sessionId,
  side,
  registrarId: challenge.registrarId,
  registreeId: hello.registreeId,
  credential: hello.credential,
  sessionKeys: { send: sessionKeys.send, receive: sessionKeys.receive },
  transcriptHash: toBase64url(transcriptHash),
  establishedAt: now.toISOString(),
  lifetimeSeconds: grant.lifetimeSeconds,
  expiresAt: grant.expiresAt,
});
