import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { certificateFingerprint, publicKeyFromSpki } from '../../crypto/fingerprint.ts';
import { toBase64url } from '../../crypto/base64url.ts';
import type { M2MSubId } from '../../ids.ts';
import { pkiUrls, type CaId, type CaKeyKind, type IssuingCa } from '../issuing-ca.ts';
import { endEntityCertificate, issuerOf, serialFromRandom } from './certificate.ts';
import { certificateValidityOf } from './certificate-validity.ts';
import { KEY_PURPOSE } from './extensions.ts';
import { nodeSubject, nodeUris, type NodeNaming } from './node-names.ts';
import { sameName } from './same-name.ts';

/**
 * Why the CA cannot issue a certificate for this credential: it is not valid for the whole of the credential's
 * validity, or that validity is too short for a certificate's (the first whole second of it is not before the last:
 * `validity_too_short`).
 */
export type IssuanceRefusal =
  | 'ca_not_yet_valid'
  | 'ca_expires_first'
  | 'validity_too_short'
  /**
   * The node's subject would be its CA's own name (review 287: a CA made `--subject CN=gateway-1` certified node
   * gateway-1 as CN=gateway-1). RFC 5280 4.1.2.6 and 6.1 take a certificate whose subject and issuer match as
   * self-issued, a CA's own; names compared as 7.1 says (sameName).
   */
  | 'subject_is_issuer';

/**
 * When the CA can issue certificates that validate: the span every certificate of its path covers, its own and each
 * one above it up to the root (`ca.chain`). RFC 5280 6.1.3 (a)(2) checks the validity of every certificate of the
 * path at the time of validation, so a certificate past the end of any of them (found in review: an intermediate
 * signed for 10 years by a root valid for 2 days issued 365-day node certificates) fails then. The root counts too:
 * 6.1 does not check a trust anchor's dates, but OpenSSL and the relying parties that keep it as a certificate do.
 */
export const chainValidity = (ca: Pick<IssuingCa, 'certificate' | 'chain'>): { readonly notBefore: Date; readonly notAfter: Date } => {
  const spans = [ca.certificate, ...ca.chain].map((der) => issuerOf(der));
  return {
    notBefore: new Date(Math.max(...spans.map((s) => s.notBefore.getTime()))),
    notAfter: new Date(Math.min(...spans.map((s) => s.notAfter.getTime()))),
  };
};

/**
 * The operational certificate of a node's credential (issue 13): subject and URI SANs naming the node
 * (node-names.ts), the validity derived from the credential's (`validity`, half-open: certificateValidityOf, its
 * last whole second inside the credential's window), clientAuth, and where relying parties check it
 * (pkiUrls(baseUrl, ca.id)). A CA whose certificates (its own and those above it, `chainValidity`) do not all cover
 * that validity refuses: a certificate outliving any certificate of its path fails path validation when it matters.
 * So does one whose own name that subject would be (`subject_is_issuer`).
 */
export const issueNodeCertificate = async (args: {
  readonly ca: IssuingCa;
  readonly baseUrl: string;
  readonly naming: NodeNaming;
  readonly key: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  /** The credential's validity, [notBefore, notAfter): the certificate's is derived from it. */
  readonly validity: { readonly notBefore: Date; readonly notAfter: Date };
  /** 16 bytes from the RandomSource port. */
  readonly serialRandom: Uint8Array;
}): Promise<{ ok: true; der: Uint8Array } | { ok: false; reason: IssuanceRefusal }> => {
  const validity = certificateValidityOf(args.validity);
  if (!(validity.notBefore < validity.notAfter)) return { ok: false, reason: 'validity_too_short' };
  const span = chainValidity(args.ca);
  if (validity.notBefore < span.notBefore) return { ok: false, reason: 'ca_not_yet_valid' };
  if (validity.notAfter > span.notAfter) return { ok: false, reason: 'ca_expires_first' };
  const subject = nodeSubject(args.naming.nodeId);
  if (!subject.empty && sameName(subject.name, issuerOf(args.ca.certificate).name)) return { ok: false, reason: 'subject_is_issuer' };
  const der = await endEntityCertificate({
    ca: args.ca,
    serial: serialFromRandom(args.serialRandom),
    subject: subject.name,
    subjectEmpty: subject.empty,
    subjectKey: args.key,
    uris: nodeUris(args.naming),
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    purposes: [KEY_PURPOSE.clientAuth],
    urls: pkiUrls(args.baseUrl, args.ca.id),
  });
  return { ok: true, der };
};

/** The key a certificate certifies, when it is Ed25519 or P-256; undefined otherwise or when it does not parse. */
export const certifiedPublicKey = (der: Uint8Array): { readonly kind: CaKeyKind; readonly bytes: Uint8Array } | undefined => {
  try {
    const key = publicKeyFromSpki(new Uint8Array(new x509.X509Certificate(Uint8Array.from(der)).publicKey.rawData));
    return key === undefined || key.kind === 'x25519' ? undefined : { kind: key.kind, bytes: key.publicKey };
  } catch {
    return undefined;
  }
};

/**
 * What `CredentialIssued.certificate` records of a certificate Credence issued (public facts only): the serial as
 * lowercase hex of its content octets, subject and issuer as RFC 4514 text, the DER, the issuing CA, and the M2M
 * Service Subscription that CA certifies when it names one (`issuingCaCertifies`, review 355; absent otherwise, so a
 * CA certifying the subscription of its id records what it did before).
 */
export const certificateSummary = (der: Uint8Array, issuingCa: CaId, issuingCaCertifies?: M2MSubId) => {
  const cert = new x509.X509Certificate(Uint8Array.from(der));
  return {
    fingerprint: certificateFingerprint(der),
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    der: toBase64url(der),
    issuingCa,
    ...(issuingCaCertifies !== undefined ? { issuingCaCertifies } : {}),
  };
};
