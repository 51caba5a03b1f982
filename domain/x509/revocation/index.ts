/** CRLs (RFC 5280) and OCSP (RFC 6960) for Credence's issuing CAs: pure builders and parsers, signing injected. */
export { signatureAlgorithmDer } from './algorithm.ts';
export { revokedCertificateDer, signedCrl, tbsCertListDer } from './crl.ts';
export type { CrlFields, RevokedCertificate } from './crl.ts';
export { CERT_ID_HASH_OID, keyHash, revocationIssuer } from './issuer.ts';
export type { CertIdHash, RevocationIssuer } from './issuer.ts';
export { MAX_OCSP_CERT_IDS, MAX_OCSP_NONCE_BYTES, MAX_OCSP_REQUEST_BYTES, OCSP_NONCE_OID, parseOcspRequest } from './ocsp-request.ts';
export type { OcspCertId, OcspRequestFields, OcspRequestParse } from './ocsp-request.ts';
export { basicOcspResponseDer, OCSP_RESPONSE_STATUS, ocspErrorResponseDer, responseDataDer, signedOcspResponse } from './ocsp-response.ts';
export type { CertStatus, OcspErrorStatus, ResponseDataFields, SingleResponseFields } from './ocsp-response.ts';
export { issueOcspSigningCertificate } from './ocsp-signing-certificate.ts';
export type { OcspSigningCertificateRequest } from './ocsp-signing-certificate.ts';
export { isSerialHex, SerialHex, serialHexOf, serialOctets } from './serial.ts';
