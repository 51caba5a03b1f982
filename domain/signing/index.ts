export { ActorKey, parseRequestSigningPolicy, RequestSigningPolicy } from './policy.ts';
export type { RequestSigningPolicyInput } from './policy.ts';
export { keyFingerprint, requestVerifier, signCommand, signingPayload, storedSignatureCheck } from './request-signature.ts';
