/** Manufacturer (IDevID) certificate chain verification against configured trust anchors (SER-SWIR-04). */
export { certificateRejected, TrustAnchors, TrustAnchorsConfig, verifyCertificateChain } from './chain.ts';
export type { CertificateRejection, VerifiedCertificate } from './chain.ts';
export { describeCertificate } from './describe.ts';
