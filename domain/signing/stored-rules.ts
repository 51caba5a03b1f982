import { canonicalJson, fromBase64url, sha256, toHex, utf8 } from '../crypto/index.ts';
import { parseRequestSigningPolicy, type RequestSigningPolicyInput } from './policy.ts';
import { keyFingerprint } from './request-signature.ts';

/**
 * What decides the status `storedSignatureCheck` gives a stored event, named: `fingerprint` (SHA-256, hex) changes
 * exactly when a status could, `description` says it to a person. No secret is in either: the policy holds public
 * keys only.
 */
export interface SignatureRules {
  readonly fingerprint: string;
  readonly description: string;
}

/**
 * Bumped when `storedSignatureCheck` judges by other rules than these fields, so that statuses judged before differ.
 * v2 (review 145): a key's `retiredAt` decides, the policy's lifetime and clock skew no longer do (a stored request is
 * held to the maxima any policy allows), and a key fingerprint is listed once. v3 (review 168): a `rotatePseudonym`
 * signed over the node alone verifies as a demand rotation only (payload.ts), so one stored with another trigger is
 * `invalid`, where v2 said `verified`. v4 (review 240): a signature is judged on the data as recorded, not as decoded,
 * so one stored at an older schema version, or with a member the event schema drops, is `verified` where v3 said
 * `invalid` (`does_not_verify`).
 */
const RULES_VERSION = 'credence:stored-signature-check:v4';

/**
 * The rules of `storedSignatureCheck(input)`: the audience and the registered keys (each by its key fingerprint, with
 * its actor id, roles and `retiredAt`, in fingerprint order: a policy lists a key once, so their order decides
 * nothing). Not `require` nor `exemptRoles`: they decide what the engine accepts, not how a stored signature is judged;
 * nor `maxLifetimeSeconds` and `clockSkewSeconds`, which a stored one is no longer judged by. Changing those changes
 * no recorded status.
 */
export const storedSignatureRules = (input: RequestSigningPolicyInput): SignatureRules => {
  const policy = parseRequestSigningPolicy(input);
  const keys = policy.keys
    .map((k) => ({
      actorId: k.actorId,
      roles: [...k.roles].sort(),
      algorithm: k.algorithm,
      key: keyFingerprint(k.algorithm, fromBase64url(k.publicKey)),
      // As an instant, not as spelt: `...Z` and `...+00:00` retire a key at the same moment.
      ...(k.retiredAt !== undefined ? { retiredAt: new Date(k.retiredAt).toISOString() } : {}),
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const retired = keys.filter((k) => k.retiredAt !== undefined).length;
  const fingerprint = toHex(sha256(utf8(canonicalJson({ rules: RULES_VERSION, audience: policy.audience, keys }))));
  return {
    fingerprint,
    description:
      `the request-signing policy of ${JSON.stringify(policy.audience)} (${keys.length} key${keys.length === 1 ? '' : 's'}` +
      `${retired > 0 ? `, ${retired} retired` : ''}; fingerprint ${fingerprint.slice(0, 16)})`,
  };
};
