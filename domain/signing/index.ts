export {
  ActorKey,
  DUPLICATE_KEY_RULE,
  INFRASTRUCTURE_ACTOR_ID,
  INFRASTRUCTURE_ACTOR_ROLE,
  INFRASTRUCTURE_COMMAND_TYPES,
  MAX_CLOCK_SKEW_SECONDS,
  MAX_REQUEST_LIFETIME_SECONDS,
  parseRequestSigningPolicy,
  RequestSigningPolicy,
} from './policy.ts';
export type { RequestSigningPolicyInput } from './policy.ts';
export { signingPayload, signingPayloadV1 } from './payload.ts';
export type { SignatureClaims, SignedCommand } from './payload.ts';
export { keyFingerprint, signCommand } from './request-signature.ts';
export type { SigningOptions } from './request-signature.ts';
export { requestVerifier, storedSignatureCheck, storedSignatureJudgement } from './verifier.ts';
export { storedSignatureRules } from './stored-rules.ts';
export type { SignatureRules } from './stored-rules.ts';
export type { InvalidSignatureReason, RequestVerifier, StoredSignature } from './verifier.ts';
