import { z } from 'zod';
import type { CredentialDescriptor } from '../../../domain/crypto/credential.ts';
import { CertificateSummary } from '../../../domain/events/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { verifyEvidenceBundle } from '../../../domain/transparency/index.ts';
import { withCertificate } from '../../protocols/enrolment/index.ts';
import type { OperatorClient } from '../operator.ts';
import { UnexpectedResponse } from '../http.ts';

/** The step a certificate read back from the server is judged at, in a `credential_mismatch` it fails. */
export const RECORDED_CERTIFICATE = 'credential.certificate';

const ROUTE = 'GET /v1/transparency/evidence/credential/{id}';

/** What the stream's CredentialIssued says of the credential: the fields this read needs, the rest left as it is. */
const Issued = z.looseObject({
  type: z.literal('CredentialIssued'),
  data: z.looseObject({ credentialId: z.string(), fingerprint: z.string(), certificate: CertificateSummary.optional() }),
});
// An entry withheld (a fact claim naming a pseudonym: domain/transparency/bundle.ts) has no event, and is passed over.
const Entries = z.looseObject({ entries: z.array(z.looseObject({ event: z.looseObject({ type: z.string() }).optional() })) });

/**
 * The certificate the server recorded for a credential the device holds, read with an operator token: the
 * `CredentialIssued` of its stream carries it (DER), where the credential read carries the fingerprint only. The
 * evidence bundle is read, as `credence export` reads it, and must verify and be the credential's stream. The
 * certificate then goes through the check the provisioning answer's goes through (`withCertificate`: it must
 * certify this key, or `credential_mismatch`). The Enrolment Function's proof over it cannot be checked here: it
 * binds the certificate to a run's transcript, which only the run that got the answer holds.
 * Returns the credential with its certificate, or undefined when the server recorded none for it (no issuing CA).
 */
export const fetchRecordedCertificate = async (
  reader: Pick<OperatorClient, 'evidence'>,
  credentialId: string,
  credential: CredentialDescriptor,
): Promise<CredentialDescriptor | undefined> => {
  const bundle = await reader.evidence('credential', credentialId);
  // Integrity only, under the key the bundle names: the device already takes this server's word for the token it
  // holds and for the credential it reads back, so pinning the server's own log key here would add no trust; an
  // auditor verifies the bundle against a key obtained out of band (`credence verify FILE --key`).
  const checked = verifyEvidenceBundle(bundle, { integrityOnly: true });
  if (!checked.ok) throw new UnexpectedResponse(ROUTE, `the evidence does not verify (${checked.reason}): ${checked.message}`);
  if (checked.streamId !== streamIdOf('credential', credentialId)) throw new UnexpectedResponse(ROUTE, `evidence of ${checked.streamId}, not of credential ${credentialId}`);
  const issued = Entries.parse(bundle).entries.flatMap(({ event }) => {
    if (event === undefined) return [];
    const parsed = Issued.safeParse(event);
    return parsed.success ? [parsed.data.data] : [];
  });
  const ours = issued.find((d) => d.credentialId === credentialId && d.fingerprint === credential.fingerprint);
  if (ours === undefined) throw new UnexpectedResponse(ROUTE, `no CredentialIssued of credential ${credentialId} for fingerprint ${credential.fingerprint}`);
  if (ours.certificate?.der === undefined) return undefined;
  return withCertificate(credential, ours.certificate.der, RECORDED_CERTIFICATE);
};
