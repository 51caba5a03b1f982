import type { DecodedEvent } from '../../domain/stored.ts';
import type { ReadModelRules } from '../runtime/index.ts';

/**
 * What the audit trail says about the actor's request signature (SER-016 non-repudiation). Presence is all this
 * projection can see; checking the signature against the actor's key is the verifier's job, plugged in through
 * `SignatureCheck` and recorded as verified or invalid.
 */
export type SignatureStatus = 'unsigned' | 'signed' | 'verified' | 'invalid';

/**
 * A status and, for `invalid`, the verifier's reason (`unknown_key`, `retired`, `does_not_verify`, ...): a key merely
 * left out of the policy must not read as a forgery (review 182).
 */
export interface SignatureJudgement {
  readonly status: SignatureStatus;
  readonly reason?: string;
}

/**
 * Must be synchronous and deterministic: it runs inside the projection's transaction, also on rebuilds. A bare status
 * is a check that gives no reasons.
 */
export type SignatureCheck = (event: DecodedEvent) => SignatureJudgement | SignatureStatus;

/** A check's answer as a judgement. */
export const judgementOf = (answer: SignatureJudgement | SignatureStatus): SignatureJudgement =>
  typeof answer === 'string' ? { status: answer } : answer;

export const signaturePresence: SignatureCheck = (e) => ({ status: e.metadata.signature === undefined ? 'unsigned' : 'signed' });

/** The rules of `signaturePresence`: no policy, so a signature is recorded as there (`signed`), never judged. */
export const SIGNATURE_PRESENCE_RULES: ReadModelRules = {
  fingerprint: 'signature-presence',
  description: 'no request-signing policy (a signature is recorded as present, `signed`, never checked)',
};
