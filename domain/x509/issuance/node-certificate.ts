import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { certificateFingerprint, publicKeyFromSpki } from '../../crypto/fingerprint.ts';
import { toBase64url } from '../../crypto/base64url.ts';
import { pkiUrls, type CaId, type CaKeyKind, type IssuingCa } from '../issuing-ca.ts';
import { endEntityCertificate, issuerOf, serialFromRandom } from './certificate.ts';
import { KEY_PURPOSE } from './extensions.ts';
import { nodeSubject, nodeUris, type NodeNaming } from './node-names.ts';

/** Why the CA cannot issue a certificate for this credential: it is not valid for the whole of the credential's validity. */
export type IssuanceRefusal = 'ca_not_yet_valid' | 'ca_expires_first';

/**
 * The operational certificate of a node's credential (issue 13): subject and URI SANs naming the node
 * (node-names.ts), validity exactly the credential's, clientAuth, and where relying parties check it
 * (pkiUrls(baseUrl, ca.id)). A CA whose own certificate does not cover that validity refuses: a certificate outliving
 * its issuer fails path validation when it matters.
 */
export const issueNodeCertificate = async (args: {
  readonly ca: IssuingCa;
  readonly baseUrl: string;
  readonly naming: NodeNaming;
  readonly key: { readonly kind: CaKeyKind; readonly bytes: Uint8Array };
  readonly validity: { readonly notBefore: Date; readonly notAfter: Date };
  /** 16 bytes from the RandomSource port. */
  readonly serialRandom: Uint8Array;
}): Promise<{ ok: true; der: Uint8Array } | { ok: false; reason: IssuanceRefusal }> => {
  const issuer = issuerOf(args.ca.certificate);
  if (args.validity.notBefore < issuer.notBefore) return { ok: false, reason: 'ca_not_yet_valid' };
  if (args.validity.notAfter > issuer.notAfter) return { ok: false, reason: 'ca_expires_first' };
  const subject = nodeSubject(args.naming.nodeId);
  const der = await endEntityCertificate({
    ca: args.ca,
    serial: serialFromRandom(args.serialRandom),
    subject: subject.name,
    subjectEmpty: subject.empty,
    subjectKey: args.key,
    uris: nodeUris(args.naming),
    notBefore: args.validity.notBefore,
    notAfter: args.validity.notAfter,
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
 * lowercase hex of its content octets, subject and issuer as RFC 4514 text, the DER, and the issuing CA.
 */
export const certificateSummary = (der: Uint8Array, issuingCa: CaId) => {
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
  };
};
