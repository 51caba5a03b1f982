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
  /** Gives `visit` each record kept, oldest first, without holding them all (a line carries a certificate). */
  read(visit: (record: IssuedCertificate) => void): void;
  /** Adds `record`, on disk (synced) when this returns; a failure throws. */
  append(record: IssuedCertificate): void;
}

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
    read(visit) {
      const lineOf = headedLedgerLines({ path, caId, kind: 'issued-certificates', newestVersion: ISSUED_FILE_VERSION, header: Header, refused: (why) => refused(path, caId, why) });
      file.load((line, n) => {
        const next = lineOf(line, n);
        if (next.header) return;
        const parsed = next.parsed;
        const record = Record.safeParse(parsed);
        if (!record.success) throw refused(path, caId, `line ${n}: ${record.error.issues[0]?.message ?? 'malformed'}`);
        visit(record.data);
      });
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
