import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { certificateFingerprint, toBase64url } from '../crypto/index.ts';
import { certificateRejected } from './rejection.ts';

/**
 * What the engine records of a manufacturer certificate at the factory (SER-SWIR-04): what identifies it and
 * the certificate itself (public), so the Enrolment Function can later require the device to present it.
 */
export const describeCertificate = (der: Uint8Array) => {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch {
    throw certificateRejected('malformed_certificate', '(unparsable leaf)');
  }
  return {
    fingerprint: certificateFingerprint(der),
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    der: toBase64url(der),
  };
};
