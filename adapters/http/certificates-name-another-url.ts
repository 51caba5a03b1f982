import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { FastifyBaseLogger } from 'fastify';
import { fromBase64url } from '../../domain/crypto/base64url.ts';
import { CertificateSummary } from '../../domain/events/index.ts';
import { pkiUrls, type IssuingCa } from '../../domain/x509/issuing-ca.ts';
import type { Credence } from '../runtime/index.ts';

/** The URL a certificate names for its CA's full CRL (cRLDistributionPoints), when it names one. */
const crlUrlOf = (der: Uint8Array): string | undefined => {
  const cdp = new x509.X509Certificate(der).getExtension(x509.CRLDistributionPointsExtension);
  return cdp?.distributionPoints[0]?.distributionPoint?.fullName?.find((name) => name.uniformResourceIdentifier !== undefined)
    ?.uniformResourceIdentifier;
};

/**
 * A CA's longest-lived certificate: one step down the (ca_id, not_after) index of projections/pki/tables.ts, whatever
 * the number it issued. Before, one query over every CA sorted all their certificates: a scan of the whole table at
 * every start, a long stall before listening on a folder of a million certificates.
 */
const LONGEST_LIVED = 'SELECT credential_id FROM pki_certificates WHERE ca_id = ? ORDER BY not_after DESC LIMIT 1';

/**
 * The CRL URL named by the certificate `ca` issued that lives longest (the latest issued, as a rule): one read of the
 * `pki` read model and one of that credential's stream. Undefined when it issued none, or that one names no CRL.
 */
const crlNamedBy = async (credence: Credence, ca: IssuingCa) => {
  const row = credence.readModels.prepare(LONGEST_LIVED).get(ca.id) as { credential_id: string } | undefined;
  if (row === undefined) return undefined;
  for (const event of await credence.store.readStream(`credential-${row.credential_id}`)) {
    if (event.type !== 'CredentialIssued') continue;
    const certificate = CertificateSummary.safeParse(event.data['certificate']);
    if (!certificate.success || certificate.data.der === undefined || certificate.data.issuingCa !== ca.id) continue;
    const crl = crlUrlOf(fromBase64url(certificate.data.der));
    return crl === undefined ? undefined : { credentialId: row.credential_id, crl };
  }
  return undefined;
};

/** A CA whose certificates name another URL than this start's for their CRL and OCSP, and both URLs. */
export interface CertificatesElsewhere {
  readonly caId: string;
  readonly credentialId: string;
  /** The URL the certificates name (their CRL's, less `/pki/<ca>/crl`). */
  readonly certificatesUrl: string;
  /** The URL this start serves them at. */
  readonly publicUrl: string;
}

/**
 * Each CA whose longest-lived certificate names another URL than `publicUrl` for its CRL. Each CA on its own: the
 * longest-lived certificate of them all could be one CA's that names this URL while another CA's still name the old
 * one. A failure to find out for a CA leaves it out.
 */
export const certificatesNamingAnotherUrl = async (
  o: { readonly credence: Credence; readonly cas: readonly IssuingCa[]; readonly publicUrl: string },
): Promise<CertificatesElsewhere[]> => {
  const elsewhere: CertificatesElsewhere[] = [];
  for (const ca of o.cas) {
    const named = await crlNamedBy(o.credence, ca).catch(() => undefined);
    if (named === undefined) continue;
    const expected = pkiUrls(o.publicUrl, ca.id).crl;
    if (named.crl === expected) continue;
    const suffix = `/pki/${ca.id}/crl`;
    const certificatesUrl = named.crl.endsWith(suffix) ? named.crl.slice(0, -suffix.length) : named.crl;
    elsewhere.push({ caId: ca.id, credentialId: named.credentialId, certificatesUrl, publicUrl: expected.slice(0, -suffix.length) });
  }
  return elsewhere;
};

/**
 * Certificates name their CRL, OCSP and CA certificate URLs under the publicUrl of the start that issued them, for
 * their whole lifetime (docs/pki.md). A folder served at another URL later (`PORT=9000 npm start`, `--port 0`, another
 * `--public-url`) leaves those URLs answering nothing, or answering for another service: relying parties then cannot
 * learn a revocation. Found in review 54: nothing said so. Said at warn, once per start for each CA whose certificates
 * name another URL, naming the CA and both URLs; a failure to find out is not a reason to refuse the start, and says
 * nothing.
 */
export const warnIfCertificatesNameAnotherUrl = async (
  o: { readonly credence: Credence; readonly cas: readonly IssuingCa[]; readonly publicUrl: string; readonly log: FastifyBaseLogger },
): Promise<void> => {
  for (const { caId, credentialId, certificatesUrl, publicUrl } of await certificatesNamingAnotherUrl(o)) {
    o.log.warn(
      { publicUrl, certificatesUrl, caId, credentialId },
      `certificates issued from this data folder name ${certificatesUrl} for their CRL and OCSP (those of CA ${caId}), ` +
        `but this start serves at ${publicUrl}: relying parties cannot reach the CRL or OCSP of those certificates ` +
        `(revocations go unseen) until the folder is served at ${certificatesUrl} again (--port, --host or --public-url)`,
    );
  }
};
