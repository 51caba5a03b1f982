import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { validationError } from '../../../domain/errors.ts';
import type { CaId } from '../../../domain/x509/issuing-ca.ts';
import { SerialHex } from '../../../domain/x509/revocation/index.ts';
import { preparePrivateDir, writeFileAtomic } from '../files/index.ts';
import { refuseNewerFileVersion } from '../files/newer-file-version.ts';

/**
 * When each expired, revoked certificate of a CA was first listed on a complete CRL issued beyond its notAfter
 * (serial hex -> that CRL's thisUpdate, epoch ms). RFC 5280 5.1.2.6 lets the entry leave one CRL validity later; the
 * CRL publisher (adapters/runtime/pki-crl-publisher.ts) saves a mark only after the CRL that sets it is signed, so a
 * removal can never run ahead of a CRL that was issued. A mark stays after its entry left: a restart re-reads the
 * revocation from the read model, and the mark keeps it off the list.
 */
export interface CrlExpiryMarks {
  load(): ReadonlyMap<string, number>;
  /** Replaces what is kept with `marks` (all of them), atomically. */
  save(marks: ReadonlyMap<string, number>): void;
}

/** About 60 bytes a mark: 2 million is a 120 MB file, far past any list a CA serves from this store. */
export const MAX_CRL_EXPIRY_MARKS = 2_000_000;
const MAX_FILE_BYTES = 160 * 1024 * 1024;

/**
 * Bounds `marks` in place: past `max`, the oldest marks (earliest CRL) go, down to nine tenths of `max` so that the
 * sort is not paid at every save. A dropped mark costs only this: after a restart its entry, re-read from the read
 * model, is listed again for one more CRL validity and then leaves (RFC 5280 5.1.2.6 allows listing it longer).
 * Returns how many marks were dropped.
 */
export const boundCrlExpiryMarks = (marks: Map<string, number>, max = MAX_CRL_EXPIRY_MARKS): number => {
  if (marks.size <= max) return 0;
  const keep = Math.floor(max * 0.9);
  const oldestFirst = [...marks].sort((a, b) => a[1] - b[1]);
  const drop = oldestFirst.length - keep;
  for (let i = 0; i < drop; i++) marks.delete(oldestFirst[i]![0]);
  return drop;
};

/** The layout of the expiry-mark files this version writes and reads; a file of a newer one is refused (load). */
const EXPIRY_MARKS_FILE_VERSION = 1;

const ExpiryMarksFile = z.strictObject({
  version: z.literal(EXPIRY_MARKS_FILE_VERSION),
  caId: z.string().max(63),
  /** [serial, thisUpdate of the first complete CRL issued beyond the certificate's notAfter]. */
  listedBeyondExpiry: z.array(z.tuple([SerialHex, z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)])).max(MAX_CRL_EXPIRY_MARKS),
});

const refused = (path: string, caId: CaId, why: string) =>
  validationError([{ path, rule: 'crl_expiry_marks_file', message: `is not the CRL expiry-marks file of CA ${caId}: ${why}` }], 'CRL expiry marks');

/**
 * Marks kept in `<data>/pki/<ca>.crl-expiry.json`, next to the CRL numbers and written the same way (a new file,
 * fsynced, renamed over the old: a crash leaves the old marks or the new ones, never a mix). Not a read model: a
 * rebuild of the revocation read model must not bring removed entries back for another validity.
 */
export const fileCrlExpiryMarks = (dataDir: string, caId: CaId): CrlExpiryMarks => {
  const dir = join(dataDir, 'pki');
  const path = join(dir, `${caId}.crl-expiry.json`);
  return {
    load() {
      if (!existsSync(path)) return new Map();
      if (statSync(path).size > MAX_FILE_BYTES) throw refused(path, caId, `larger than ${MAX_FILE_BYTES} bytes`);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(path, 'utf8'));
      } catch {
        throw refused(path, caId, 'not JSON');
      }
      // Before the schema: a newer layout is no damaged file of this one, to be repaired or deleted (review 123).
      refuseNewerFileVersion(json, path, 'CRL expiry-marks', EXPIRY_MARKS_FILE_VERSION);
      const parsed = ExpiryMarksFile.safeParse(json);
      if (!parsed.success) throw refused(path, caId, parsed.error.issues[0]?.message ?? 'malformed');
      if (parsed.data.caId !== caId) throw refused(path, caId, `it names CA ${parsed.data.caId}`);
      return new Map(parsed.data.listedBeyondExpiry);
    },
    save(marks) {
      if (marks.size > MAX_CRL_EXPIRY_MARKS) throw new RangeError(`marks: more than ${MAX_CRL_EXPIRY_MARKS}`);
      preparePrivateDir(dir);
      writeFileAtomic(path, `${JSON.stringify({ version: EXPIRY_MARKS_FILE_VERSION, caId, listedBeyondExpiry: [...marks] })}\n`);
    },
  };
};

/** In memory (an instance without a data folder): kept for the life of the process. */
export const memoryCrlExpiryMarks = (): CrlExpiryMarks => {
  let kept = new Map<string, number>();
  return {
    load: () => new Map(kept),
    save(marks) {
      kept = new Map(marks);
    },
  };
};
