import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KEY_PURPOSE } from './extensions.ts';

/** Why a certificate is not one a Credence CA issues for a credential's key, as a rule name and words. */
export interface CredentialCertificateRefusal {
  readonly rule: 'certificate_is_ca' | 'certificate_is_ocsp_responder' | 'certificate_lacks_client_auth';
  readonly message: string;
}

/**
 * Whether `cert` has the purpose of the certificates a Credence CA issues for credentials (issueNodeCertificate: an
 * end entity, basicConstraints cA false, extKeyUsage clientAuth only), or why not: a CA certificate (basicConstraints
 * cA, or keyUsage keyCertSign or cRLSign: RFC 5280 4.2.1.9, 4.2.1.3), a delegated OCSP responder's (id-kp-OCSPSigning,
 * RFC 6960 4.2.2.2), or one without id-kp-clientAuth (4.2.1.12; anyExtendedKeyUsage is not clientAuth: the CA never
 * issues it). The first reason found, in that order; undefined when it has that purpose. Found in review: the CA's
 * own certificate and its OCSP responder's were recorded as credentials', OCSP answered `good` for them, and revoking
 * the credential listed the CA's and the responder's serials on the CA's CRL.
 */
export const credentialCertificateRefusal = (cert: x509.X509Certificate): CredentialCertificateRefusal | undefined => {
  let constraints: x509.BasicConstraintsExtension | null;
  let usages: x509.KeyUsagesExtension | null;
  let extended: x509.ExtendedKeyUsageExtension | null;
  try {
    constraints = cert.getExtension(x509.BasicConstraintsExtension);
    usages = cert.getExtension(x509.KeyUsagesExtension);
    extended = cert.getExtension(x509.ExtendedKeyUsageExtension);
  } catch {
    return { rule: 'certificate_lacks_client_auth', message: 'must be a node certificate of its CA: its extensions do not parse' };
  }
  const caUsages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  if (constraints?.ca === true || (usages !== null && (usages.usages & caUsages) !== 0)) {
    return { rule: 'certificate_is_ca', message: "must be a node certificate of its CA, not a CA certificate (basicConstraints cA, keyCertSign or cRLSign)" };
  }
  const purposes: readonly string[] = extended?.usages.map(String) ?? [];
  if (purposes.includes(KEY_PURPOSE.ocspSigning)) {
    return { rule: 'certificate_is_ocsp_responder', message: "must be a node certificate of its CA, not an OCSP responder's (id-kp-OCSPSigning)" };
  }
  if (!purposes.includes(KEY_PURPOSE.clientAuth)) {
    return { rule: 'certificate_lacks_client_auth', message: 'must be a node certificate of its CA: extKeyUsage id-kp-clientAuth' };
  }
  return undefined;
};
