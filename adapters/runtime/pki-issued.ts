import { Instant } from '../../domain/ids.ts';
import type { CaId } from '../../domain/x509/issuing-ca.ts';
import {
  fileIssuedCertificates,
  IssuedCredentialData,
  memoryIssuedCertificates,
  type IssuedCertificate,
  type IssuedCertificates,
} from '../driven/pki/issued-certificates.ts';

export type { IssuedCertificate } from '../driven/pki/issued-certificates.ts';

/** A certificate could not be recorded as issued (the disk): it is not handed out, and the run is refused. */
export class IssuanceUnrecorded extends Error {
  readonly code = 'issuance_unrecorded';

  constructor(cause: unknown) {
    super(`the certificate could not be recorded as issued (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = 'IssuanceUnrecorded';
  }
}

/**
 * Each CA's record of the certificates it issued (issued-certificates.ts), written before a credential carrying one is
 * recorded and handed over (review 247): an event store restored from an older backup lacks the credentials provisioned
 * since, and nothing else would name their certificates, which OCSP then answers `unknown` and no CRL can ever list.
 * One writer per CA for the life of the process, so that a failed append's fragment is cut before the next.
 */
export class IssuedJournal {
  readonly #dataDir: string | undefined;
  readonly #now: () => Date;
  readonly #byCa = new Map<string, IssuedCertificates>();

  constructor(dataDir: string | undefined, now: () => Date) {
    this.#dataDir = dataDir;
    this.#now = now;
  }

  /**
   * Records the `issueCredential` data `issue` about to be recorded, synced to disk before this returns; throws
   * IssuanceUnrecorded when it cannot (data that does not parse included: a certificate not journalled is never
   * handed out), so the caller records and hands out nothing. Called only for data carrying a CA's certificate.
   */
  record(issue: unknown): void {
    const parsed = IssuedCredentialData.safeParse(issue);
    if (!parsed.success) throw new IssuanceUnrecorded(new Error(`not a certificate of one of its CAs: ${parsed.error.issues[0]?.message ?? 'malformed'}`));
    const { credentialId, certificate } = parsed.data;
    const caId = certificate.issuingCa;
    let journal = this.#byCa.get(caId);
    if (journal === undefined) {
      journal = this.#dataDir !== undefined ? fileIssuedCertificates(this.#dataDir, caId) : memoryIssuedCertificates();
      this.#byCa.set(caId, journal);
    }
    try {
      journal.append({ serialNumber: certificate.serialNumber, credentialId, notAfter: certificate.notAfter, issuedAt: this.#now().toISOString(), issue: parsed.data });
    } catch (error) {
      throw new IssuanceUnrecorded(error);
    }
  }
}

/**
 * How long past its notAfter a certificate's journal line is kept: a year. Once expired, every relying party refuses
 * the certificate, so it needs no revoking, and the line's one use (recording its credential again to revoke it) is
 * gone. A dropped line never comes back, and the only time the trim has is the wall clock's (issuedAt too): a clock
 * stepped ahead, a certificate issued on it and a start before it is corrected would drop the lines of certificates
 * still out in the field (review 253). The year is how far ahead a clock can be before that happens; the journal
 * then holds a year of expired certificates beside the live ones, not every one ever issued.
 */
export const ISSUED_KEPT_EXPIRED_MS = 365 * 86_400_000;

/** What a start names at most, per CA, in its warning (all are counted). */
export const ISSUED_NOT_IN_LOG_NAMED = 100;

/**
 * The certificates `caId` issued, not expired at `now`, that the event log holds no credential with (`inLog` false
 * for their serial) and that are not on its CRLs from the published revocations (`published`): issued after the
 * backup an events.db was restored from. Counted whole; the first `ISSUED_NOT_IN_LOG_NAMED` kept. The journal is
 * read line by line (only the serials counted are held) and trimmed of certificates expired ISSUED_KEPT_EXPIRED_MS
 * before `now` when they are most of it (issued-certificates.ts).
 */
export const issuedNotInLog = (
  dataDir: string,
  caId: CaId,
  now: number,
  inLog: (serialNumber: string) => boolean,
  published: (serialNumber: string) => boolean,
): { readonly count: number; readonly named: readonly IssuedCertificate[] } => {
  const named: IssuedCertificate[] = [];
  let count = 0;
  // A serial journalled twice is one certificate (its notAfter, publication and credential the same): counted once.
  const counted = new Set<string>();
  fileIssuedCertificates(dataDir, caId).read(
    (r) => {
      if (counted.has(r.serialNumber)) return;
      if (Date.parse(Instant.parse(r.notAfter)) <= now || published(r.serialNumber) || inLog(r.serialNumber)) return;
      counted.add(r.serialNumber);
      count++;
      if (named.length < ISSUED_NOT_IN_LOG_NAMED) named.push(r);
    },
    { now, keptExpiredMs: ISSUED_KEPT_EXPIRED_MS },
  );
  return { count, named };
};
