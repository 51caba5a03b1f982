import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import { RevocationReason } from '../../../domain/events/common.ts';
import { CredentialId, Instant } from '../../../domain/ids.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { SerialHex } from '../../../domain/x509/revocation/index.ts';
import { headedLedgerLines, jsonlLedger } from './jsonl-ledger.ts';

/** A revocation a CA put on a CRL it signed: what a relying party may have seen, so it stays revoked (RFC 5280 3.3). */
export interface PublishedRevocation {
  /** Lowercase hex of the serial's content octets. */
  readonly serialNumber: string;
  /** The credential the certificate was issued for: what an operator revokes again after a restore lost this. */
  readonly credentialId: string;
  /** ISO 8601 time of the revocation event, as the `pki` read model keeps it: the CRL's revocationDate. */
  readonly revokedAt: string;
  readonly reason: RevocationReason;
  /** ISO 8601 notAfter of the certificate: past it (and past the CRLs that must list it beyond), the record may go. */
  readonly notAfter: string;
  /**
   * ISO 8601 time the certificate became invalid, where earlier than `revokedAt`: the invalidityDate published with it
   * (RFC 5280 5.3.2). Absent otherwise, and from every record of a version-1 file.
   */
  readonly invalidSince?: string;
}

/**
 * Whether `r` raises the reason of the publication `kept` to keyCompromise: the only change a publication takes (RFC
 * 5280 5.3.1; the machines' `raisesToKeyCompromise`).
 */
export const raises = (kept: Pick<PublishedRevocation, 'reason'>, r: Pick<PublishedRevocation, 'reason'>): boolean =>
  r.reason === 'keyCompromise' && kept.reason !== 'keyCompromise';

/**
 * Every revocation a CA published, kept outside the event store and the read models. An event store restored from
 * an older backup loses the revocations acknowledged since; those already on a CRL stay on the CRLs and revoked on
 * OCSP from this record, because a relying party saw them and an entry must not leave a CRL before the certificate
 * expires (RFC 5280 5.1.2.6).
 */
export interface PublishedRevocations {
  /** What is kept; called before the first append (a failed append's fragment is cut from what it found). */
  load(): ReadonlyMap<string, PublishedRevocation>;
  /** Adds `records`, on disk (synced) when this returns. */
  append(records: readonly PublishedRevocation[]): void;
  /** Replaces what is kept with `records` (all of them), atomically. */
  replace(records: Iterable<PublishedRevocation>): void;
}

/** A line is about 170 bytes; one far longer is not a record (and is not held whole in memory). */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * The layout of the published-revocations files this version writes and reads, in their header; a newer one is refused.
 * v2 (review 203): a record may carry `invalidSince`. A v1 file (no record carries it) is still read, and rewritten
 * as v2 at its load: an older engine then refuses the file by its version, not a line with a key it does not know.
 */
const PUBLISHED_FILE_VERSION = 2;

const Header = z.strictObject({ version: z.union([z.literal(1), z.literal(PUBLISHED_FILE_VERSION)]), caId: z.string().max(63) });
const recordFields = {
  serialNumber: SerialHex,
  credentialId: CredentialId,
  revokedAt: Instant,
  reason: RevocationReason,
  notAfter: Instant,
};
/** A record of a v1 file: as that version wrote them, never with `invalidSince`. */
const RecordV1 = z.strictObject(recordFields);
const Record = z.strictObject({ ...recordFields, invalidSince: Instant.optional() });

const refused = (path: string, caId: CaId, why: string) =>
  validationError([{ path, rule: 'published_revocations_file', message: `is not the published-revocations file of CA ${caId}: ${why}` }], 'published revocations');

const lineOf = (r: PublishedRevocation): string => {
  const { serialNumber, credentialId, revokedAt, reason, notAfter, invalidSince } = r;
  return `${JSON.stringify({ serialNumber, credentialId, revokedAt, reason, notAfter, ...(invalidSince !== undefined ? { invalidSince } : {}) })}\n`;
};

/**
 * Kept in `<data>/pki/<ca>.published.jsonl`: a header line naming the CA, then one line per revocation, appended and
 * fsynced before the CRL that lists it is signed. A line cut short by a crash during an append (no newline) is
 * dropped at the next load: its CRL was never signed. Any other malformed line refuses the file, as the CRL number
 * and expiry-mark files are refused, rather than forget what was published.
 */
export const filePublishedRevocations = (dataDir: string, caId: CaId): PublishedRevocations => {
  const dir = join(dataDir, 'pki');
  const path = join(dir, `${caId}.published.jsonl`);
  const file = jsonlLedger<PublishedRevocation>(dir, path, {
    header: `${JSON.stringify({ version: PUBLISHED_FILE_VERSION, caId })}\n`,
    lineOf,
    maxLineBytes: MAX_LINE_BYTES,
    refused: (why) => refused(path, caId, why),
  });
  return {
    load() {
      const kept = new Map<string, PublishedRevocation>();
      const lineOf = headedLedgerLines({
        path,
        caId,
        kind: 'published-revocations',
        newestVersion: PUBLISHED_FILE_VERSION,
        header: Header,
        refused: (why) => refused(path, caId, why),
      });
      let version: number | undefined;
      const found = file.load((line, n) => {
        const next = lineOf(line, n);
        version = next.version;
        if (next.header) return;
        const parsed = next.parsed;
        const record = (version === 1 ? RecordV1 : Record).safeParse(parsed);
        if (!record.success) throw refused(path, caId, `line ${n}: ${record.error.issues[0]?.message ?? 'malformed'}`);
        // The first revocation of a certificate stands, as in the read model, but for its reason's raise to
        // keyCompromise (a later line): the first publication's time and invalidity date, the raised reason.
        const first = kept.get(record.data.serialNumber);
        if (first === undefined) kept.set(record.data.serialNumber, record.data);
        else if (raises(first, record.data)) kept.set(record.data.serialNumber, { ...first, reason: 'keyCompromise' });
      });
      // Atomically: a crash leaves the v1 file as it was (read again next time) or the v2 one, never part of either.
      if (found && version !== PUBLISHED_FILE_VERSION) file.replace(kept.values());
      return kept;
    },
    append: (records) => file.append(records),
    replace: (records) => file.replace(records),
  };
};

/** In memory (an instance without a data folder, which no restore can rewind): kept for the life of the process. */
export const memoryPublishedRevocations = (): PublishedRevocations => {
  let kept = new Map<string, PublishedRevocation>();
  return {
    load: () => new Map(kept),
    append(records) {
      for (const r of records) {
        const first = kept.get(r.serialNumber);
        if (first === undefined || raises(first, r)) kept.set(r.serialNumber, r);
      }
    },
    replace(records) {
      kept = new Map([...records].map((r) => [r.serialNumber, r]));
    },
  };
};
