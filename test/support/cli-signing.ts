/** What the CLI signing test needs of the domain's signing and crypto modules, in one import. */
export { fromBase64url, generateSigningKey, toBase64url, verifySignature } from '../../domain/crypto/index.ts';
export { keyFingerprint, signingPayload } from '../../domain/signing/index.ts';
