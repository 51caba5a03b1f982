/** Manufacturer (IDevID) certificate chain verification against configured trust anchors (SER-SWIR-04). */
export { certificateRejected, TrustAnchors, TrustAnchorsConfig, verifyCertificateChain } from './chain.ts';
export type { CertificateRejection, VerifiedCertificate } from './chain.ts';
export { MAX_INTERMEDIATES, MAX_PRESENTED } from './path-building.ts';
export { describeCertificate } from './describe.ts';
export { verifyFactoryCertificate } from './factory.ts';
