export { ActorKey, RequestSigningPolicy } from './policy.ts';
export { keyFingerprint, requestVerifier, signCommand, signingPayload } from './request-signature.ts';
