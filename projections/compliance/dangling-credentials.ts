import type Database from 'better-sqlite3';
import type { OwnerKind } from '../../domain/events/index.ts';
import { pageBounds, type Page } from '../audit/index.ts';

/** The event that ended a credential's owner: its node's revocation or enrolment's expiry, its App-ID's revocation. */
export type OwnerEndedBy = 'NodeRevoked' | 'NodeEnrolmentExpired' | 'ApplicationRevoked';

export interface DanglingCredentialRow {
  /** Position of the event that ended the owner (`owner.endedBy`): the row's proof, and the answer's order. */
  readonly position: bigint;
  /** Position of the credential's latest status event (its issue or provisioning). */
  readonly credentialPosition: bigint;
  readonly credentialId: string;
  /** Live, as the read model holds it now: neither revoked nor expired. */
  readonly credentialStatus: 'issued' | 'provisioned';
  /** Whom CredentialIssued names: the node or App-ID itself, or a CSE-ID or AE-ID that names its node or App-ID. */
  readonly issuedTo: { readonly kind: OwnerKind; readonly id: string };
  /** The owner that ended, and how. */
  readonly owner: { readonly kind: 'node' | 'application'; readonly id: string; readonly endedBy: OwnerEndedBy };
}

/**
 * The node or App-ID a credential is issued to, as its CredentialIssued names it: a node's own, a CSE-ID's that names
 * its node (review 41), an App-ID's own, an AE-ID's that names its App-ID. The same text in every branch and in the
 * index (tables.ts), which SQLite uses only for the expression it was built on.
 */
export const HOLDER = `CASE owner_kind WHEN 'cse' THEN owner_node_id WHEN 'ae' THEN owner_app_id ELSE owner_id END`;
/**
 * A credential neither revoked nor expired (its other statuses: issued, provisioned): the partial index's own
 * condition, written as it is there. As NOT IN, which no index is searched by: as `status IN (…)` the planner took the
 * `expiring` index (status, not_after_ms) instead, every live credential read for each ending.
 */
export const LIVE_CREDENTIAL = `status NOT IN ('revoked', 'expired')`;

/**
 * The live credentials of each ended node (`node`, `cse` owners) or App-ID (`app`, `ae`) at the owner's first ending
 * (both are final): one issued after it dangles too, the cascade revoking such a one on arrival. Cut by the cursor and
 * limited in the answer's order on its own, as dangling-associations' branches are (review 255). `+e.id`: compared
 * without the column's TEXT affinity, which the index's expression lacks, SQLite searches the index by it (with it, it
 * scanned every live credential for each ending).
 */
const branch = (kind: 'node' | 'application', owners: string) => `SELECT * FROM (
  SELECT e.position, e.kind AS owner_kind_ended, e.id AS owner_id_ended, e.event AS ended_by,
    c.credential_id, c.status, c.status_position, c.owner_kind, c.owner_id
  FROM (SELECT kind, id, MIN(position) AS position, event FROM compliance_endings WHERE kind = '${kind}' GROUP BY id) e
    CROSS JOIN compliance_credentials c ON ${HOLDER} = +e.id AND c.owner_kind IN (${owners}) AND c.${LIVE_CREDENTIAL}
  WHERE e.position >= @position AND (e.position > @position OR (e.position = @position AND c.credential_id > @credential))
  ORDER BY e.position, c.credential_id LIMIT @limit)`;

const DANGLING = `SELECT * FROM (
  ${branch('node', `'node', 'cse'`)}
  UNION ALL ${branch('application', `'app', 'ae'`)}
)
ORDER BY position, credential_id LIMIT @limit`;

/**
 * Credentials still live (issued or provisioned, neither revoked nor expired) whose node has ended (revoked, or its
 * enrolment expired) or whose App-ID has been revoked: each is what the revocation cascade revokes with its owner
 * (projections/cascade/reactions.ts), so a row is a finding, a revocation it could not carry out (a dead letter: a
 * broken stream) or a store written around the engine (review 314: dangling-associations answered [] for one). One
 * row per credential (it has one owner), in the order of the ending's position then credential id, unique per row:
 * `after` is the last row of the page before. A credential of a CSE-ID or AE-ID that does not name its node or App-ID
 * (written before review 41) has no owner here.
 */
export const danglingCredentials = (
  db: Database.Database,
  page: Pick<Page, 'limit'> = {},
  /** The last row of the page before, by the order of the answer: the rows after it (several share an ending). */
  after?: { readonly position: bigint; readonly credentialId: string },
): DanglingCredentialRow[] =>
  (
    db
      .prepare(DANGLING)
      // Without a cursor, one before every row: positions start at 1 and '' sorts before any credential id.
      .all({ position: after?.position ?? 0n, credential: after?.credentialId ?? '', limit: pageBounds(page)[1] }) as {
      position: bigint;
      owner_kind_ended: DanglingCredentialRow['owner']['kind'];
      owner_id_ended: string;
      ended_by: OwnerEndedBy;
      credential_id: string;
      status: DanglingCredentialRow['credentialStatus'];
      status_position: bigint;
      owner_kind: OwnerKind;
      owner_id: string;
    }[]
  ).map((r) => ({
    position: r.position,
    credentialPosition: r.status_position,
    credentialId: r.credential_id,
    credentialStatus: r.status,
    issuedTo: { kind: r.owner_kind, id: r.owner_id },
    owner: { kind: r.owner_kind_ended, id: r.owner_id_ended, endedBy: r.ended_by },
  }));
