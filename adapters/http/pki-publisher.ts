import type { FastifyBaseLogger } from 'fastify';
import type { Clock, OwnedSecureEnvironment } from '../../domain/ports/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { startPkiRevocation, systemRandom, type Credence, type IssuingCa, type PkiRevocation } from '../runtime/index.ts';
import { messageOf } from '../runtime/live-failure.ts';
import { certifiesNoCredentialNow } from '../runtime/pki-ended-cas.ts';
import { recoveredMessage } from '../runtime/pki-published.ts';
import { caSigningKeyMissingNow } from '../runtime/pki-revocation.ts';
import { logFailure } from './log-failure.ts';

export interface PkiPublisherOptions {
  readonly credence: Credence;
  readonly cas: readonly IssuingCa[];
  /** The URL the full CRLs name: known once the service listens. */
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly se: OwnedSecureEnvironment;
  readonly clock: Clock;
  readonly log: FastifyBaseLogger;
}

/** CRLs and OCSP of the data folder's issuing CAs (issue 13), reporting to the server's logger. */
export const startPkiPublisher = (o: PkiPublisherOptions): Promise<PkiRevocation> =>
  startPkiRevocation({
    credence: o.credence,
    cas: o.cas,
    baseUrl: o.baseUrl,
    dataDir: o.dataDir,
    se: o.se,
    random: systemRandom,
    now: () => o.clock.now().getTime(),
    onError: (component, error) => logFailure(o.log, error, 'PKI revocation failed', { component }),
    // Said at info when a run of failures reported above (its first only) ends: the error gets its sequel in the log.
    onRecovered: (component, caId, ended) => o.log.info({ component, caId, what: ended.what, failures: ended.failures }, recoveredMessage(caId, ended)),
    // Said at warn, once per finding: the event store was restored from a backup older than CRLs already published.
    onPublishedNotInLog: (caId, revocations) =>
      o.log.warn(
        { caId, count: revocations.length, credentials: revocations.slice(0, 100).map((r) => ({ credentialId: r.credentialId, serialNumber: r.serialNumber })) },
        `CA ${caId} published ${revocations.length} revocation(s) the event log does not hold (restored from an older backup): ` +
          'they stay on its CRLs and revoked on OCSP; revoke again each credential the restored log still holds with that ' +
          'certificate (same serial), so that the log says what the CRLs say',
      ),
    // Said at warn, once per CA at start (review 247): certificates out in the field that the restored log lacks.
    onIssuedNotInLog: (caId, count, certificates) =>
      o.log.warn(
        { caId, count, certificates: certificates.map((c) => ({ credentialId: c.credentialId, serialNumber: c.serialNumber, notAfter: c.notAfter })) },
        `CA ${caId} issued ${count} live certificate(s) the event log holds no credential with (restored from a backup older ` +
          'than their provisioning): OCSP answers unknown for them and no CRL can list them, so relying parties that check ' +
          `only CRLs accept them until they expire. Record each again from <data>/pki/${caId}.issued.jsonl (its line's ` +
          '"issue", sent as credence command issueCredential --data @FILE), then revoke those that must not stand ' +
          '(README, "Restoring the event store from a backup")',
      ),
    // Said at warn, once per file at start (review 157): a damaged CRL base file no longer stops the service.
    onCrlBaseSetAside: (caId, path, movedTo, why) =>
      o.log.warn(
        { caId, path, movedTo },
        `CA ${caId}'s CRL base file ${path} could not be read (${why}): moved aside to ${movedTo}. Its delta CRLs take a ` +
          'new base, and relying parties fetch its complete CRL again before using them',
      ),
    // Said at warn, once per CA at start (review 127): a CA made again under the same id, its predecessor's
    // certificates still held by live credentials.
    onCaKeyReplaced: (caId, certificates) =>
      o.log.warn(
        { caId, certificates },
        `CA ${caId} holds ${certificates} live certificate(s) another key signed under the same id: its key was replaced ` +
          "in place, and its OCSP answers unknown for them and its CRLs leave them out. Rotate those credentials and revoke " +
          'the old ones (docs/pki.md, "A CA key is compromised"); a new CA belongs under a new id (credence ca init --id)',
      ),
    // Said at warn, once per CA at start (review 133): a signer file restored from a backup older than the token's
    // destruction of its key. The handle names the key the file held, nothing of its material.
    // Review 332: said alike when a signature meets it gone while the service runs (deleted from the token behind its back).
    onOcspSignerKeyGone: (caId, path, handle, whileRunning) =>
      o.log.warn(
        { caId, file: path, keyHandle: handle, whileRunning },
        `CA ${caId}: the OCSP signer file ${path} names the key ${handle}, which the Secure Environment no longer holds ` +
          (whileRunning
            ? '(deleted from it while the service ran; the answer that met it was internalError)'
            : '(destroyed in the token at a renewal after the backup this file was restored from; a restore brings back no key ' +
              'of a token)') +
          ': a new OCSP signer was issued in its place and the file rewritten',
      ),
    // Said at warn, once per CA: public facts only (its id and its certificates' end), never a key handle.
    onCaEnded: (caId, endedAt) =>
      o.log.warn(
        { caId, endedAt: endedAt.toISOString() },
        `CA ${caId} ended at ${endedAt.toISOString()} (its certificate or one above it) and is retired: it issues no ` +
          'certificate, its OCSP answers unauthorized and its CRL URLs 410; the other CAs serve as before (docs/pki.md, ' +
          '"A CA whose chain has ended")',
      ),
    // Said at warn, once per CA and process, a month before it stops certifying nodes: time to renew it. Said at
    // error once that instant has passed (review 231: the warning named a date already past, "renew it before then").
    onCaEndingSoon: (caId, { endsAt, certifiesUntil, credentialLifetimeMs, certifiesNone, intermediate }) => {
      const renew = `with the service stopped (${intermediate ? `credence ca renew --id ${caId} --csr-out FILE, then credence ca install` : `credence ca renew --id ${caId}`}; docs/pki.md, "Renewing a CA")`;
      const fields = { caId, endsAt: endsAt.toISOString(), certifiesUntil: certifiesUntil.toISOString() };
      if (certifiesNone) o.log.error({ ...fields, credentialLifetimeMs }, `${certifiesNoCredentialNow(caId, endsAt, credentialLifetimeMs)}. Renew it now, ${renew}`);
      else
        o.log.warn(
          fields,
          `CA ${caId} certifies node credentials only until ${certifiesUntil.toISOString()}: each certificate lasts as long as ` +
            `its credential and none outlives the CA's chain, which ends at ${endsAt.toISOString()} (its certificate or one ` +
            `above it). Renew it before then, ${renew}`,
        );
    },
  });

/**
 * Why CA `caId` cannot sign, as the `pki` component's error says it. A Secure Environment fault by its reason only, as
 * /readyz says it: the key's handle and the remedy are the log's (`PKI revocation failed`, the provisioning refused).
 */
/** A CA's signer refused for its key not in the Secure Environment (`ca_signing_key_missing`). */
const isKeyMissing = (error: unknown): boolean =>
  isCredenceError(error, 'secure_environment_unavailable') &&
  error.problem.code === 'secure_environment_unavailable' &&
  error.problem.reason === 'ca_signing_key_missing';

const caUnsigned = (caId: string, error: unknown): string => {
  if (isCredenceError(error, 'secure_environment_unavailable') && error.problem.code === 'secure_environment_unavailable') {
    const what = error.problem.reason === 'ca_signing_key_missing' ? 'its key is not in the Secure Environment' : 'the Secure Environment cannot be used now';
    return (
      `CA ${caId} signs no CRL nor certificate: ${what} (${error.problem.reason}); the CRLs issued before are served until ` +
      "their nextUpdate, new revocations are on none (the service's log says why and what to do)"
    );
  }
  return `CA ${caId} signs no CRL: ${messageOf(error)}; the CRLs issued before are served until their nextUpdate`;
};

/**
 * Why the `pki` component fails now (the live runtime's WorkOutside; review 332: it showed healthy while every CRL
 * failed): a CA whose last CRL could not be signed, until one is, or whose key a signature met missing from the Secure
 * Environment, until it is found again (looked for at most every few seconds, as /readyz does). Before the publisher
 * starts (`revocation` undefined), the CAs' keys only; a CA whose chain has ended signs nothing and is not said.
 */
export const pkiFailingNow = async (cas: readonly IssuingCa[], revocation: PkiRevocation | undefined): Promise<string | undefined> => {
  const said: string[] = [];
  for (const ca of cas) {
    if (revocation?.ended(ca.id) !== undefined) continue;
    const unsigned = revocation?.crl(ca.id)?.signingFailure;
    const missing = await caSigningKeyMissingNow(ca);
    // A signature refused for the key missing stands only while it is missing (review 337: it stood until the next
    // CRL was signed, up to half a delta's validity of /readyz 503 after the key was back); any other until then.
    const error = missing ?? (unsigned === undefined || isKeyMissing(unsigned.error) ? undefined : unsigned.error);
    if (error !== undefined) said.push(caUnsigned(ca.id, error));
  }
  return said.length === 0 ? undefined : said.join('; ');
};
