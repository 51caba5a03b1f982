import type { DecodedEvent } from '../../domain/stored.ts';
import type { ReadModelRules } from '../runtime/index.ts';

/**
 * What the audit trail says about the actor's request signature (SER-016 non-repudiation). Presence is all this
 * projection can see; checking the signature against the actor's key is the verifier's job, plugged in through
 * `SignatureCheck` and recorded as verified or invalid.
 */
export type SignatureStatus = 'unsigned' | 'signed' | 'verified' | 'invalid';

/** Must be synchronous and deterministic: it runs inside the projection's transaction, also on rebuilds. */
export type SignatureCheck = (event: DecodedEvent) => SignatureStatus;

export const signaturePresence: SignatureCheck = (e) => (e.metadata.signature === undefined ? 'unsigned' : 'signed');

/** The rules of `signaturePresence`: no policy, so a signature is recorded as there (`signed`), never judged. */
export const SIGNATURE_PRESENCE_RULES: ReadModelRules = {
  fingerprint: 'signature-presence',
  description: 'no request-signing policy (a signature is recorded as present, `signed`, never checked)',
};
