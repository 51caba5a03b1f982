/** Certificates Credence issues as a CA (issue 13): CA and node certificates, CSRs, and the signing helpers CRLs and OCSP share. */
export { endEntityCertificate, issuerOf, selfSignedCaCertificate, SERIAL_LENGTH, serialFromRandom, signCertificate } from './certificate.ts';
export type { CertificateTemplate, EndEntityCertificateRequest } from './certificate.ts';
export { buildCertificationRequest, checkCsrNamesNode, verifyCertificationRequest } from './csr.ts';
export type { CertificationRequest, CsrCheck, CsrRejection } from './csr.ts';
export {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoint,
  extendedKeyUsage,
  extension,
  EXTENSION_OID,
  freshestCrl,
  KEY_PURPOSE,
  keyUsage,
  subjectAltNameUris,
  subjectKeyIdentifier,
} from './extensions.ts';
export { certificateSummary, certifiedPublicKey, chainValidity, issueNodeCertificate } from './node-certificate.ts';
export { certificateValidityOf } from './certificate-validity.ts';
export { MAX_NAME_TEXT, nameFromText, parseDistinguishedName } from './distinguished-name.ts';
export type { NameRefusal, NameRule } from './distinguished-name.ts';
export { credentialCertificateRefusal } from './credential-certificate-purpose.ts';
export type { CredentialCertificateRefusal } from './credential-certificate-purpose.ts';
export type { IssuanceRefusal } from './node-certificate.ts';
export { CSE_URN_PREFIX, cseUri, MAX_COMMON_NAME, NODE_URN_PREFIX, nodeSubject, nodeUri, nodeUris } from './node-names.ts';
export type { NodeNaming } from './node-names.ts';
export {
  compactEcdsaSignature,
  keyIdentifier,
  nameOf,
  nameText,
  pkiName,
  publicKeyInfo,
  signatureAlgorithm,
  SIGNATURE_ALGORITHM_OID,
  signTbs,
  x509Signature,
  x509Time,
} from './signed.ts';
export { caAwaitingCertificateWarning, DEFAULT_CA_ID, issuingCaFor, subscriptionCertifiedBy } from './select.ts';
export type { IssuingCas, SubscriptionCa } from './select.ts';
export { sameName } from './same-name.ts';
