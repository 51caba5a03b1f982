export { ActorKey, RequestSigningPolicy } from './policy.ts';
export type { RequestSigningPolicyInput } from './policy.ts';
export { keyFingerprint, requestVerifier, signCommand, signingPayload } from './request-signature.ts';
