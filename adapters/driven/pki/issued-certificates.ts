import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { CredentialId, Instant } from '../../../domain/ids.ts';
import { CaId } from '../../../domain/x509/issuing-ca.ts';
import { SerialHex } from '../../../domain/x509/revocation/index.ts';
import { headedLedgerLines, jsonlLedger } from './jsonl-ledger.ts';

/**
 * A certificate a CA issued to a remotely provisioned credential, as it was about to be recorded and handed over:
 * public facts only. `issue` is the `issueCredential` data the service recorded it with (the certificate summary and
 * its DER included), what an operator submits again (`credence command issueCredential --data @FILE`) when a restored
 * event log lacks it, so that the credential can be revoked and the CRLs list it.
 */
export interface IssuedCertificate {
  /** Lowercase hex of the serial's content octets. */
  readonly serialNumber: string;
  readonly credentialId: string;
  /** ISO 8601 notAfter of the certificate: past it, no relying party accepts it and it needs no revocation. */
  readonly notAfter: string;
  /** ISO 8601 time the line was written (just before the credential was recorded). */
  readonly issuedAt: string;
  readonly issue: IssuedCredentialData;
}

/** The `issueCredential` data as far as this file reads it; the engine judges the rest when it is submitted again. */
export const IssuedCredentialData = z.looseObject({
  credentialId: CredentialId,
  certificate: z.looseObject({ issuingCa: CaId, serialNumber: SerialHex, notAfter: Instant, der: z.string().max(16 * 1024) }),
});
export type IssuedCredentialData = z.infer<typeof IssuedCredentialData>;

/** Every certificate a CA issued, kept outside the event store (which a restore rewinds). */
export interface IssuedCertificates {
  /**
   * Gives `visit` each record kept, oldest first, without holding them all (a line carries a certificate). With
   * `trim`, then drops the lines of certificates expired `trim.keptExpiredMs` before `trim.now`, or before the newest
   * line's issue if that is earlier, when they are most of the file (COMPACT_AT_LEAST); never a line of a certificate
   * not yet expired by then. A writer of the same file in
   * this process appends to the new file after (jsonl-ledger.ts measures a replaced file again).
   */
  read(visit: (record: IssuedCertificate) => void, trim?: IssuedTrim): void;
  /** Adds `record`, on disk (synced) when this returns; a failure throws. */
  append(record: IssuedCertificate): void;
}

/** When the start's read drops expired certificates' lines: at `now` (the clock's), those expired `keptExpiredMs` before. */
export interface IssuedTrim {
  readonly now: number;
  readonly keptExpiredMs: number;
}

/**
 * Lines dropped only when at least this many (about 2 MiB) and more than half the file: a start then rewrites the
 * file at most once for every as many lines again appended, never for a handful.
 */
export const COMPACT_AT_LEAST = 1024;

const ISSUED_FILE_VERSION = 1;
/** A line is about 2 KiB (the DER twice, as summary and base64url); one far longer is not a record. */
const MAX_LINE_BYTES = 64 * 1024;

const Header = z.strictObject({ version: z.literal(ISSUED_FILE_VERSION), caId: CaId });
const Record = z.strictObject({ serialNumber: SerialHex, credentialId: CredentialId, notAfter: Instant, issuedAt: Instant, issue: IssuedCredentialData });

const refused = (path: string, caId: CaId, why: string) =>
  validationError([{ path, rule: 'issued_certificates_file', message: `is not the issued-certificates file of CA ${caId}: ${why}` }], 'issued certificates');

const lineOf = (r: IssuedCertificate): string => {
  const { serialNumber, credentialId, notAfter, issuedAt, issue } = r;
  return `${JSON.stringify({ serialNumber, credentialId, notAfter, issuedAt, issue })}\n`;
};

/**
 * Kept in `<data>/pki/<ca>.issued.jsonl` as published-revocations.ts keeps `<ca>.published.jsonl` (jsonl-ledger.ts):
 * a header naming the CA, then one line per certificate, appended and fsynced before the credential is recorded and
 * the certificate handed to its node. A line cut short by a crash is dropped at the next load (that certificate was
 * never handed out); any other malformed line refuses the file, rather than forget a certificate out in the field.
 * The start's read drops the lines of certificates long expired once they are most of the file (IssuedTrim): no relying
 * party accepts those certificates, so there is nothing left to revoke, and the file and every start's read stay
 * the size of the live certificates rather than of every one ever issued.
 */
export const fileIssuedCertificates = (dataDir: string, caId: CaId): IssuedCertificates => {
  const dir = join(dataDir, 'pki');
  const path = join(dir, `${caId}.issued.jsonl`);
  const file = jsonlLedger<IssuedCertificate>(dir, path, {
    header: `${JSON.stringify({ version: ISSUED_FILE_VERSION, caId })}\n`,
    lineOf,
    maxLineBytes: MAX_LINE_BYTES,
    refused: (why) => refused(path, caId, why),
  });
  return {
    read(visit, trim) {
      const lineOf = headedLedgerLines({ path, caId, kind: 'issued-certificates', newestVersion: ISSUED_FILE_VERSION, header: Header, refused: (why) => refused(path, caId, why) });
      const notAfters: number[] = [];
      let lastIssuedAt = -Infinity;
      const loaded = file.load((line, n) => {
        const next = lineOf(line, n);
        if (next.header) return;
        const parsed = next.parsed;
        const record = Record.safeParse(parsed);
        if (!record.success) throw refused(path, caId, `line ${n}: ${record.error.issues[0]?.message ?? 'malformed'}`);
        if (trim !== undefined) {
          notAfters.push(Date.parse(record.data.notAfter));
          lastIssuedAt = Math.max(lastIssuedAt, Date.parse(record.data.issuedAt));
        }
        visit(record.data);
      });
      if (!loaded || trim === undefined) return;
      // Judged at the earlier of the clock's now and the newest line's issue: a clock stepped ahead (review 251) would
      // otherwise drop the lines of certificates still out in the field, and a dropped line does not come back.
      const at = Math.min(trim.now, lastIssuedAt);
      const expired = (notAfter: number): boolean => notAfter + trim.keptExpiredMs <= at;
      const expiredRecords = notAfters.reduce((count, notAfter) => (expired(notAfter) ? count + 1 : count), 0);
      if (expiredRecords < COMPACT_AT_LEAST || expiredRecords * 2 <= notAfters.length) return;
      try {
        // Each line was read whole above; read again here only for its notAfter, and kept unless that is surely past.
        file.compact((line) => {
          const notAfter = Instant.safeParse((JSON.parse(line.toString('utf8')) as { notAfter?: unknown }).notAfter);
          return !notAfter.success || !expired(Date.parse(notAfter.data));
        });
      } catch {
        // A trim that fails (a full disk) leaves the journal whole and as it was: tried again at the next start, and
        // the read it followed stands (a journal that does not parse refused it above, not here).
      }
    },
    append: (record) => file.append([record]),
  };
};

/** In memory (an instance without a data folder, which no restore can rewind). */
export const memoryIssuedCertificates = (): IssuedCertificates => {
  const kept: IssuedCertificate[] = [];
  return {
    read: (visit) => kept.forEach((r) => visit(r)),
    append: (record) => void kept.push(record),
  };
};
