import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import { lapseCauseOf, lateLapse, revocationInstant } from '../revocation-instant/index.ts';
import { prepared } from '../runtime/index.ts';
import type { Position } from './batch-rows.ts';

/*
 * When a credential's revocation occurred, as the `pki` read model gives it to CRLs and OCSP, the invalidityDate where
 * it is earlier than the recording, the recording otherwise (review 197, review 203; the rule:
 * projections/revocation-instant), for every credential, with a certificate of ours or not: the rule is about when
 * the service refused it. The state the rule reads, kept here as the pki read model keeps its own:
 * `compliance_rotations`, the end of the overlap of each credential's rotation under way (CredentialRotationStarted,
 * a later one by position replacing it; gone with the rotation's end, abandoned or revoked), and `compliance_lapses`,
 * each enrolment end (NodeEnrolmentExpired) recorded after its subscription's notAfter, by event id: what the
 * cascade's revocations name as their causationId.
 */
export const COMPLIANCE_DATING_TABLES = `CREATE TABLE IF NOT EXISTS compliance_rotations (
    credential_id TEXT PRIMARY KEY,
    overlap_ends_at INTEGER NOT NULL,
    position INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS compliance_lapses (
    event_id TEXT PRIMARY KEY,
    lapsed_at INTEGER NOT NULL
  ) WITHOUT ROWID`;

interface Rotation {
  readonly overlap_ends_at: number | bigint;
  readonly position: Position;
}

const READ_ROTATION = 'SELECT overlap_ends_at, position FROM compliance_rotations WHERE credential_id = ?';
const READ_LAPSE = 'SELECT lapsed_at FROM compliance_lapses WHERE event_id = ?';

/**
 * The rotations and lapses a batch looks at, each read once when first asked for (revocations and rotations are a
 * small share of the log), moved on in memory in the batch's order, written by `flush`.
 */
export const revocationDates = (db: Database.Database) => {
  const rotations = new Map<string, Rotation | undefined>();
  const changedRotations = new Set<string>();
  const lapses = new Map<string, number | undefined>();
  const newLapses = new Set<string>();
  const rotationOf = (credentialId: string): Rotation | undefined => {
    if (!rotations.has(credentialId)) rotations.set(credentialId, prepared(db, READ_ROTATION).get(credentialId) as Rotation | undefined);
    return rotations.get(credentialId);
  };
  const lapseOf = (eventId: string): number | undefined => {
    if (!lapses.has(eventId)) {
      const row = prepared(db, READ_LAPSE).get(eventId) as { lapsed_at: number | bigint } | undefined;
      lapses.set(eventId, row === undefined ? undefined : Number(row.lapsed_at));
    }
    return lapses.get(eventId);
  };
  /** The rotation of `credentialId` under way before `position` ends there (forward only: a late delivery undoes nothing). */
  const rotationEnded = (credentialId: string, position: bigint): void => {
    const row = rotationOf(credentialId);
    if (row === undefined || row.position >= position) return;
    rotations.set(credentialId, undefined);
    changedRotations.add(credentialId);
  };
  return {
    /** CredentialRotationStarted at `position`: the overlap ends at `overlapEndsAt`, unless a later rotation is known. */
    rotationStarted(credentialId: string, overlapEndsAt: string, position: bigint): void {
      const row = rotationOf(credentialId);
      if (row !== undefined && row.position >= position) return;
      rotations.set(credentialId, { overlap_ends_at: Date.parse(overlapEndsAt), position });
      changedRotations.add(credentialId);
    },
    rotationEnded,
    /** NodeEnrolmentExpired `e`, under a subscription whose notAfter is `notAfter` (epoch ms, if known): kept when it lapsed late. */
    enrolmentEnded(e: DecodedEvent, notAfter: number | undefined): void {
      const lapsedAt = lateLapse(notAfter, e.at);
      if (lapsedAt === undefined || lapseOf(e.record.id) !== undefined) return;
      lapses.set(e.record.id, lapsedAt);
      newLapses.add(e.record.id);
    },
    /** When the revocation of `credentialId` recorded by `e` occurred, epoch ms; its rotation under way ends with it. */
    credentialRevoked(e: DecodedEvent, credentialId: string, reason: string): number {
      const overlapEndsAt = rotationOf(credentialId)?.overlap_ends_at;
      const cause = lapseCauseOf(e);
      const lapsedAt = cause === undefined ? undefined : lapseOf(cause);
      const instant = revocationInstant(e.at, reason, overlapEndsAt === undefined ? undefined : Number(overlapEndsAt), lapsedAt);
      rotationEnded(credentialId, e.record.position);
      return instant;
    },
    flush(): void {
      const ended = [...changedRotations].filter((id) => rotations.get(id) === undefined);
      if (ended.length > 0) prepared(db, 'DELETE FROM compliance_rotations WHERE credential_id IN (SELECT value FROM json_each(?))').run(JSON.stringify(ended));
      const write = prepared(db, 'INSERT OR REPLACE INTO compliance_rotations (credential_id, overlap_ends_at, position) VALUES (?, ?, ?)');
      for (const id of changedRotations) {
        const row = rotations.get(id);
        if (row !== undefined) write.run(id, row.overlap_ends_at, row.position);
      }
      const insert = prepared(db, 'INSERT OR IGNORE INTO compliance_lapses (event_id, lapsed_at) VALUES (?, ?)');
      for (const id of newLapses) insert.run(id, lapses.get(id));
    },
  };
};

export type RevocationDates = ReturnType<typeof revocationDates>;
