import type { z } from 'zod';
import { parseCertificate, sameBytes } from '../x509/certificate.ts';
import { certificateSummary, certificateValidityOf, certifiedPublicKey, credentialCertificateRefusal, DEFAULT_CA_ID } from '../x509/issuance/index.ts';
import { tryFromBase64url } from '../crypto/base64url.ts';
import type { CredentialIssued } from '../events/credential.ts';

/** The summary fields a certificate of one of Credence's CAs states, each of which its DER must say the same. */
const STATED = ['fingerprint', 'subject', 'issuer', 'serialNumber', 'notBefore', 'notAfter'] as const;

/**
 * A command recording a certificate of one of Credence's CAs (`certificate.issuingCa`) carries the certificate
 * itself, says only what it says, and records it for the key it certifies (commands only: stored events stay
 * readable as written). The `pki` read model lists such a certificate as its CA's by serial, and OCSP and the CRLs
 * answer from it: a summary written by hand named any serial as issued (OCSP then said `good` for a certificate the CA
 * never signed), and revoking it put any serial on the CA's signed CRL, the OCSP responder's own included (found in
 * review). The certificate is also one the CA issues for a credential: an end entity with id-kp-clientAuth, neither a CA
 * certificate nor an OCSP responder's (rule named in `params.rule`; found in review: the CA's own certificate and its
 * responder's were recorded with the key inside them, and revoking the credential put both serials on the CA's CRL).
 * Its validity is the one derived from the credential's (certificateValidityOf: from the first whole second at or
 * after notBefore to the last whole second before notAfter; rule `certificate_validity`): found in review, a 1-day
 * credential was recorded with a 30-day certificate, and OCSP said `good` for it after the credential expired.
 * Whether the CA's key signed the DER, and that it certifies no key of the CAs, is checked where the CAs are known
 * (projections/pki, `issuedByOurCa`).
 */
export const issuedCertificateRules = (d: z.infer<typeof CredentialIssued>, ctx: z.RefinementCtx): void => {
  const c = d.certificate;
  const issue = (field: string, message: string, rule?: string) =>
    ctx.addIssue({ code: 'custom', path: ['certificate', field], message, ...(rule !== undefined ? { params: { rule } } : {}) });
  // Review 355: the subscription a Credence CA certifies is said of that CA: with none named (a factory certificate),
  // or of `default` (which certifies the nodes no other CA does and names none), it would say whose a node is of a
  // certificate no such CA issued, and the cascade would revoke, or keep, by it when the node moves.
  if (c?.issuingCaCertifies !== undefined && (c.issuingCa === undefined || c.issuingCa === DEFAULT_CA_ID)) {
    issue(
      'issuingCaCertifies',
      c.issuingCa === undefined
        ? 'names the subscription the issuing CA certifies: recorded only with that CA (issuingCa)'
        : `CA ${DEFAULT_CA_ID} certifies the nodes no other CA does and names no subscription: leave issuingCaCertifies out`,
      'issuing_ca_certifies',
    );
  }
  if (c?.issuingCa === undefined) return;
  const der = c.der === undefined ? undefined : tryFromBase64url(c.der);
  if (der === undefined) {
    issue('der', `a certificate of issuing CA ${c.issuingCa} is recorded with its DER (base64url), so that what it states can be checked`);
    return;
  }
  let stated: ReturnType<typeof certificateSummary>;
  let parsed: ReturnType<typeof parseCertificate>;
  try {
    // One DER certificate and nothing after it (found in review: trailing bytes were ignored by the summary's parse,
    // and one certificate could be recorded under as many fingerprints as there are suffixes).
    parsed = parseCertificate(der, 'certificate');
    stated = certificateSummary(der, c.issuingCa);
  } catch {
    issue('der', 'must be a DER X.509 certificate');
    return;
  }
  for (const field of STATED) {
    if (c[field] !== stated[field]) issue(field, `must be what the certificate states: ${stated[field]}`);
  }
  certificateValidityRules(d, stated, issue);
  const certified = certifiedPublicKey(der);
  const key = d.publicKey === undefined ? undefined : tryFromBase64url(d.publicKey);
  if (certified === undefined || certified.kind !== d.kind || key === undefined || !sameBytes(certified.bytes, key)) {
    issue('der', `must certify the credential's own ${d.kind} public key (publicKey)`);
  }
  const refusal = credentialCertificateRefusal(parsed.cert);
  if (refusal !== undefined) issue('der', refusal.message, refusal.rule);
};


/**
 * The certificate's validity, as its DER states it (a summary disagreeing with its DER is refused already), against
 * the one derived from the credential's half-open window (certificateValidityOf).
 */
const certificateValidityRules = (
  d: z.infer<typeof CredentialIssued>,
  stated: { readonly notBefore: string; readonly notAfter: string },
  issue: (field: string, message: string, rule?: string) => void,
): void => {
  const credential = { notBefore: new Date(d.notBefore), notAfter: new Date(d.notAfter) };
  if (Number.isNaN(credential.notBefore.getTime()) || Number.isNaN(credential.notAfter.getTime())) return;
  const derived = certificateValidityOf(credential);
  const window = `the credential's [${d.notBefore}, ${d.notAfter})`;
  if (stated.notBefore !== derived.notBefore.toISOString()) {
    issue('notBefore', `must be ${derived.notBefore.toISOString()}, the first whole second of ${window}, not ${stated.notBefore}`, 'certificate_validity');
  }
  if (stated.notAfter !== derived.notAfter.toISOString()) {
    issue('notAfter', `must be ${derived.notAfter.toISOString()}, the last whole second of ${window} (X.509 notAfter is inclusive), not ${stated.notAfter}`, 'certificate_validity');
  }
};
