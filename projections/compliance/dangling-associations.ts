import type Database from 'better-sqlite3';
import { pageBounds, type Page } from '../audit/index.ts';
import type { ParentKind } from './batch-rows.ts';

/** The event that ended an association's parent: its credential's, its node's, its App-ID's or its App-ID's enrolment's. */
export type ParentEndedBy =
  | 'CredentialRevoked'
  | 'CredentialExpired'
  | 'NodeRevoked'
  | 'NodeEnrolmentExpired'
  | 'ApplicationRevoked'
  | 'ApplicationEnrolmentEnded';

export interface DanglingAssociationRow {
  /** Position of the event that ended the parent (`parent.endedBy`): the row's proof, and the answer's order. */
  readonly position: bigint;
  /** Position of the association's latest status event. */
  readonly associationPosition: bigint;
  readonly associationId: string;
  readonly associationStatus: 'configured' | 'established';
  readonly credentialId: string;
  /**
   * As the read model holds it now: revoked or expired where the credential is the parent, possibly live where another
   * is; `unknown` where no CredentialIssued of it was read (a store written around the engine).
   */
  readonly credentialStatus: 'issued' | 'provisioned' | 'revoked' | 'expired' | 'unknown';
  /** Which parent ended, and how (review 249: the credential's end was the only one looked at). */
  readonly parent: { readonly kind: 'credential' | ParentKind; readonly id: string; readonly endedBy: ParentEndedBy };
}

const LIVE = `a.status IN ('configured', 'established')`;
const COLUMNS = `a.association_id, a.status AS a_status, a.status_position AS a_position, a.credential_id, COALESCE(c.status, 'unknown') AS c_status`;
const CREDENTIAL = 'LEFT JOIN compliance_credentials c ON c.credential_id = a.credential_id';
/** A node's or an App-ID's first ending: both are final, and an association of it live after it dangles, whenever made. */
const firstEnding = (kind: ParentKind, column: string) => `
  SELECT e.position, ${COLUMNS}, e.kind AS parent_kind, e.id AS parent_id, e.event AS ended_by
  FROM compliance_endings e JOIN compliance_associations a ON a.${column} = e.id AND ${LIVE} ${CREDENTIAL}
  WHERE e.kind = '${kind}' AND e.position = (SELECT MIN(position) FROM compliance_endings WHERE kind = '${kind}' AND id = e.id)`;

/**
 * One row per live association and parent of it that has ended (an association under an ended credential and an ended
 * node is two rows, one at each ending): the association's credential (revoked or expired), its node (revoked, or its
 * enrolment expired), its App-ID (revoked), its App-ID's enrolment (the first end after the association was configured:
 * its instances lose access then, seed 003 11.2.2, while the App-ID may be enrolled again and associate anew). Each is
 * what the revocation cascade ends the association for (projections/cascade/reactions.ts), so a row is a finding.
 */
const DANGLING = `SELECT * FROM (
  SELECT c.status_position AS position, ${COLUMNS}, 'credential' AS parent_kind, c.credential_id AS parent_id,
    CASE c.status WHEN 'revoked' THEN 'CredentialRevoked' ELSE 'CredentialExpired' END AS ended_by
  FROM compliance_associations a JOIN compliance_credentials c ON c.credential_id = a.credential_id
  WHERE ${LIVE} AND c.status IN ('revoked', 'expired')
  UNION ALL ${firstEnding('node', 'node_id')}
  UNION ALL ${firstEnding('application', 'app_id')}
  UNION ALL
  SELECT e.position, ${COLUMNS}, e.kind, e.id, e.event
  FROM compliance_endings e JOIN compliance_associations a ON a.app_id = e.id AND ${LIVE}
    JOIN compliance_association_configurations k ON k.association_id = a.association_id ${CREDENTIAL}
  WHERE e.kind = 'application-enrolment'
    AND e.position = (SELECT MIN(position) FROM compliance_endings WHERE kind = 'application-enrolment' AND id = e.id AND position > k.position)
)
WHERE (position, association_id) > (?, ?)
ORDER BY position, association_id LIMIT ?`;

/**
 * Associations still alive under a parent that has ended (above). Seed 003 11.3.2 and the revocation cascade say this
 * is always empty once the projections have settled; a row here is a finding. In the order of the ending's position
 * then association id, unique per row (one parent's ending is one event): `after` is the last row of the page before.
 */
export const danglingAssociations = (
  db: Database.Database,
  page: Pick<Page, 'limit'> = {},
  /** The last row of the page before, by the order of the answer: the rows after it (several share an ending). */
  after?: { readonly position: bigint; readonly associationId: string },
): DanglingAssociationRow[] =>
  (
    db
      .prepare(DANGLING)
      // Without a cursor, one before every row: positions start at 1 and '' sorts before any association id.
      .all(after?.position ?? 0n, after?.associationId ?? '', pageBounds(page)[1]) as {
      position: bigint;
      association_id: string;
      a_status: DanglingAssociationRow['associationStatus'];
      a_position: bigint;
      credential_id: string;
      c_status: DanglingAssociationRow['credentialStatus'];
      parent_kind: DanglingAssociationRow['parent']['kind'];
      parent_id: string;
      ended_by: ParentEndedBy;
    }[]
  ).map((r) => ({
    position: r.position,
    associationPosition: r.a_position,
    associationId: r.association_id,
    associationStatus: r.a_status,
    credentialId: r.credential_id,
    credentialStatus: r.c_status,
    parent: { kind: r.parent_kind, id: r.parent_id, endedBy: r.ended_by },
  }));
