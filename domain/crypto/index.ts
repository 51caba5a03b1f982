/** One small module over @noble/* (imported by subpath): every cryptographic primitive Credence uses. */
export { assertBytes, concatBytes, constantTimeEqual, lengthPrefixed, toHex, utf8, wipe } from './bytes.ts';
export {
  Base64urlBytes,
  base64urlLength,
  base64urlString,
  fromBase64url,
  toBase64url,
  tryFromBase64url,
  tryFromBase64urlOfLength,
} from './base64url.ts';
export type { ByteLength } from './base64url.ts';
export {
  HASH_LENGTH,
  MAX_CERTIFICATE_CHAIN,
  MAX_CERTIFICATE_LENGTH,
  MAX_CSR_LENGTH,
  MAX_PROOF_LENGTH,
  MAX_PUBLIC_KEY_LENGTH,
  MAX_TRUST_ANCHORS,
  MAX_WRAPPED_KEY_LENGTH,
} from './sizes.ts';
export { hkdfSha256, hmacSha256, sha256 } from './hash.ts';
export { AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH, aeadOpen, aeadSeal } from './aead.ts';
export {
  generateSigningKey,
  isValidSigningPublicKey,
  publicKeyLength,
  SECRET_KEY_LENGTH,
  sign,
  SIGNATURE_LENGTH,
  signingPublicKey,
  verifySignature,
} from './signatures.ts';
export type { KeyPair, SignatureKind } from './signatures.ts';
export {
  agreementPublicKey,
  agreementPublicKeyLength,
  generateAgreementKey,
  isValidAgreementPublicKey,
  sharedSecret,
} from './agreement.ts';
export type { AgreementGroup } from './agreement.ts';
export {
  certificateFingerprint,
  Fingerprint,
  FINGERPRINT_PATTERN,
  publicKeyFingerprint,
  publicKeyFromSpki,
  secretKeyFingerprint,
  subjectPublicKeyInfo,
} from './fingerprint.ts';
export type { SpkiKind } from './fingerprint.ts';
export { CANONICAL_KEY_RULE, checkPublicKey, INVALID_PUBLIC_KEY_RULE, SMALL_ORDER_KEY_RULE } from './public-key.ts';
export type { PublicKeyCheck, PublicKeyRule } from './public-key.ts';
export {
  CredentialDescriptor,
  CredentialKind,
  Identifier,
  IsoTimestamp,
  OwnerBinding,
  Validity,
  validityAt,
} from './credential.ts';
export type { AsymmetricCredentialDescriptor } from './credential.ts';
export { canonicalJson } from './canonical-json.ts';
export { proofInput, Transcript, withoutFields } from './transcript.ts';
