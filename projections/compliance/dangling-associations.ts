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
/** After the cursor: the rows of one ending past the cursor's association, then those of later endings. */
const AFTER = (position: string) => `(${position} > @position OR (${position} = @position AND a.association_id > @association))`;
/**
 * Each branch is cut by the cursor and limited in the answer's order on its own (review 255): the union then merges at
 * most `limit` rows of each, instead of every dangling row being computed and sorted on every page.
 */
const branch = (select: string, position: string) => `SELECT * FROM (${select} ORDER BY ${position}, a.association_id LIMIT @limit)`;
/** A node's or an App-ID's first ending (both are final): an association of it live after it dangles, whenever made. */
const firstEnding = (kind: ParentKind, column: string) =>
  branch(`SELECT e.position, ${COLUMNS}, e.kind AS parent_kind, e.id AS parent_id, e.event AS ended_by
  FROM (SELECT kind, id, MIN(position) AS position, event FROM compliance_endings WHERE kind = '${kind}' GROUP BY id) e
    CROSS JOIN compliance_associations a ON a.${column} = e.id AND ${LIVE} ${CREDENTIAL}
  WHERE e.position >= @position AND ${AFTER('e.position')}`, 'e.position');

/**
 * One row per live association and parent of it that has ended (an association under an ended credential and an ended
 * node is two rows, one at each ending): the association's credential (revoked or expired), its node (revoked, or its
 * enrolment expired), its App-ID (revoked), its App-ID's enrolment (the first end after the association was configured:
 * its instances lose access then, seed 003 11.2.2, while the App-ID may be enrolled again and associate anew). Each is
 * what the revocation cascade ends the association for (projections/cascade/reactions.ts), so a row is a finding.
 *
 * The App-ID enrolment's branch is driven from the live associations of the App-IDs whose enrolment ended, each with
 * one lookup of its configuration; only one configured before its App-ID's last end looks up the first end after it
 * (the CROSS JOINs fix that order). Driven from the ends, it looked that first end up again for every end and live
 * association of the App-ID, and every page computed and sorted the whole answer (review 255).
 */
const DANGLING = `SELECT * FROM (
  ${branch(`SELECT c.status_position AS position, ${COLUMNS}, 'credential' AS parent_kind, c.credential_id AS parent_id,
    CASE c.status WHEN 'revoked' THEN 'CredentialRevoked' ELSE 'CredentialExpired' END AS ended_by
  FROM compliance_associations a JOIN compliance_credentials c ON c.credential_id = a.credential_id
  WHERE ${LIVE} AND c.status IN ('revoked', 'expired') AND c.status_position >= @position AND ${AFTER('c.status_position')}`, 'c.status_position')}
  UNION ALL ${firstEnding('node', 'node_id')}
  UNION ALL ${firstEnding('application', 'app_id')}
  UNION ALL ${branch(`SELECT e.position, ${COLUMNS}, e.kind AS parent_kind, e.id AS parent_id, e.event AS ended_by
  FROM (SELECT id, MAX(position) AS last FROM compliance_endings WHERE kind = 'application-enrolment' GROUP BY id) x
    CROSS JOIN compliance_associations a ON a.app_id = x.id AND ${LIVE}
    CROSS JOIN compliance_association_configurations k ON k.association_id = a.association_id AND k.position < x.last
    CROSS JOIN compliance_endings e ON e.kind = 'application-enrolment' AND e.id = a.app_id AND e.position = (
      SELECT MIN(position) FROM compliance_endings WHERE kind = 'application-enrolment' AND id = a.app_id AND position > k.position)
    ${CREDENTIAL}
  WHERE e.position >= @position AND ${AFTER('e.position')}`, 'e.position')}
)
ORDER BY position, association_id LIMIT @limit`;

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
      .all({ position: after?.position ?? 0n, association: after?.associationId ?? '', limit: pageBounds(page)[1] }) as {
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
