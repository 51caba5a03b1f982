import type { InvalidSignatureReason } from './verifier.ts';

/**
 * Each reason a stored request signature is `invalid` for, in words, as docs/service.md gives them for the timeline's
 * `signature.reason`: a key merely left out of the policy must not read as a forgery (review 240: the console said a
 * bare `invalid`). One list for the console's evidence page and `credence verify --signing`.
 */
export const INVALID_BECAUSE: Readonly<Record<InvalidSignatureReason, string>> = {
  unknown_key: 'the key is not in the signing policy (a key removed from it, rather than retired, reads the same)',
  other_actor: 'the key is registered for another actor',
  other_role: 'the key is registered for another role',
  retired: "signed at or after the key's retiredAt",
  other_audience: "addressed to another deployment than the policy's audience",
  bad_lifetime: 'its lifetime is one no policy allows',
  not_yet_valid: 'issued after the event was recorded',
  expired: 'expired before the event was recorded',
  does_not_verify: 'the record was altered or the signature forged',
};
