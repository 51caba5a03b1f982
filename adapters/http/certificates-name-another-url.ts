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
 * The certificate the data folder's CAs issued that lives longest (the latest issued, as a rule), and the CRL URL it
 * names: one read of the `pki` read model and one of that credential's stream. Undefined when none was issued.
 */
const latestCertificate = async (credence: Credence, cas: readonly IssuingCa[]) => {
  const ids = cas.map((ca) => ca.id);
  const row = credence.readModels
    .prepare(`SELECT credential_id, ca_id FROM pki_certificates WHERE ca_id IN (${ids.map(() => '?').join(', ')}) ORDER BY not_after DESC LIMIT 1`)
    .get(...ids) as { credential_id: string; ca_id: string } | undefined;
  if (row === undefined) return undefined;
  for (const event of await credence.store.readStream(`credential-${row.credential_id}`)) {
    if (event.type !== 'CredentialIssued') continue;
    const certificate = CertificateSummary.safeParse(event.data['certificate']);
    if (!certificate.success || certificate.data.der === undefined || certificate.data.issuingCa !== row.ca_id) continue;
    const crl = crlUrlOf(fromBase64url(certificate.data.der));
    return crl === undefined ? undefined : { caId: row.ca_id, credentialId: row.credential_id, crl };
  }
  return undefined;
};

/**
 * Certificates name their CRL, OCSP and CA certificate URLs under the publicUrl of the start that issued them, for
 * their whole lifetime (docs/pki.md). A folder served at another URL later (`PORT=9000 npm start`, `--port 0`, another
 * `--public-url`) leaves those URLs answering nothing, or answering for another service: relying parties then cannot
 * learn a revocation. Found in review 54: nothing said so. Said at warn, once per start, naming both URLs; a failure to
 * find out is not a reason to refuse the start, and says nothing.
 */
export const warnIfCertificatesNameAnotherUrl = async (
  o: { readonly credence: Credence; readonly cas: readonly IssuingCa[]; readonly publicUrl: string; readonly log: FastifyBaseLogger },
): Promise<void> => {
  if (o.cas.length === 0) return;
  const latest = await latestCertificate(o.credence, o.cas).catch(() => undefined);
  if (latest === undefined) return;
  const expected = pkiUrls(o.publicUrl, latest.caId).crl;
  if (latest.crl === expected) return;
  const suffix = `/pki/${latest.caId}/crl`;
  const certificatesUrl = latest.crl.endsWith(suffix) ? latest.crl.slice(0, -suffix.length) : latest.crl;
  const publicUrl = expected.slice(0, -suffix.length);
  o.log.warn(
    { publicUrl, certificatesUrl, caId: latest.caId, credentialId: latest.credentialId },
    `certificates issued from this data folder name ${certificatesUrl} for their CRL and OCSP, but this start serves ` +
      `at ${publicUrl}: relying parties cannot reach the CRL or OCSP of those certificates (revocations go unseen) ` +
      `until the folder is served at ${certificatesUrl} again (--port, --host or --public-url)`,
  );
};
