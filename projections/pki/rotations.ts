import type Database from 'better-sqlite3';
import { prepared } from '../runtime/index.ts';

/**
 * The end of the overlap of each rotation under way of a credential whose certificate one of our CAs issued: where a
 * revocation as superseded is dated (review 171, HLR-212). Rows go with the rotation's end (revoked, or abandoned),
 * so the table holds the rotations under way, not every one there was.
 */
export const PKI_ROTATIONS_TABLE = `CREATE TABLE IF NOT EXISTS pki_rotations (
    credential_id TEXT PRIMARY KEY,
    overlap_ends_at INTEGER NOT NULL
  ) WITHOUT ROWID`;

/** A later rotation of the same credential (after an abandoned one) replaces the earlier one's end. */
export const recordRotation = (db: Database.Database, credentialId: string, overlapEndsAt: number): void => {
  prepared(db, 'INSERT INTO pki_rotations (credential_id, overlap_ends_at) VALUES (?, ?) ON CONFLICT(credential_id) DO UPDATE SET overlap_ends_at = excluded.overlap_ends_at').run(
    credentialId,
    overlapEndsAt,
  );
};

export const forgetRotation = (db: Database.Database, credentialId: string): void => {
  prepared(db, 'DELETE FROM pki_rotations WHERE credential_id = ?').run(credentialId);
};

/** The end of the overlap of `credentialId`'s rotation under way, epoch ms; undefined when none is. */
export const overlapEndOf = (db: Database.Database, credentialId: string): number | undefined => {
  const row = prepared(db, 'SELECT overlap_ends_at FROM pki_rotations WHERE credential_id = ?').get(credentialId) as { overlap_ends_at: number | bigint } | undefined;
  return row === undefined ? undefined : Number(row.overlap_ends_at);
};

/**
 * The earliest end of the overlaps under way of the credentials holding the certificate (`caId`, `serialNumber`), epoch
 * ms; undefined when none is. The OCSP responder's `good` ends there (review 221): the service refuses the credential
 * from then. Through the certificates' (ca_id, serial) index, then the rotations' primary key.
 */
export const overlapEndOfCertificate = (db: Database.Database, caId: string, serialNumber: string): number | undefined => {
  const row = prepared(
    db,
    'SELECT MIN(r.overlap_ends_at) AS ends FROM pki_certificates c JOIN pki_rotations r ON r.credential_id = c.credential_id WHERE c.ca_id = ? AND c.serial = ?',
  ).get(caId, serialNumber) as { ends: number | bigint | null };
  return row.ends === null ? undefined : Number(row.ends);
};
