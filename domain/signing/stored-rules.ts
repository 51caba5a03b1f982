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

/** Bumped when `storedSignatureCheck` judges by other rules than these fields, so that statuses judged before differ. */
const RULES_VERSION = 'credence:stored-signature-check:v1';

/**
 * The rules of `storedSignatureCheck(input)`: the audience, the registered keys (each by its key fingerprint, with its
 * actor id and roles, in the policy's order: the first key of a fingerprint is the one checked), the longest lifetime
 * and the clock skew. Not `require` nor `exemptRoles`: they decide what the engine accepts, not how a stored
 * signature is judged, so changing them changes no recorded status.
 */
export const storedSignatureRules = (input: RequestSigningPolicyInput): SignatureRules => {
  const policy = parseRequestSigningPolicy(input);
  const keys = policy.keys.map((k) => ({
    actorId: k.actorId,
    roles: [...k.roles].sort(),
    algorithm: k.algorithm,
    key: keyFingerprint(k.algorithm, fromBase64url(k.publicKey)),
  }));
  const fingerprint = toHex(
    sha256(
      utf8(
        canonicalJson({
          rules: RULES_VERSION,
          audience: policy.audience,
          keys,
          maxLifetimeSeconds: policy.maxLifetimeSeconds,
          clockSkewSeconds: policy.clockSkewSeconds,
        }),
      ),
    ),
  );
  return {
    fingerprint,
    description:
      `the request-signing policy of ${JSON.stringify(policy.audience)} (${keys.length} key${keys.length === 1 ? '' : 's'}, ` +
      `lifetime ${policy.maxLifetimeSeconds} s, clock skew ${policy.clockSkewSeconds} s; fingerprint ${fingerprint.slice(0, 16)})`,
  };
};
