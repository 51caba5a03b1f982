/** The compliance rows as a batch holds them in memory (batch.ts): read once, moved on by its events, written once. */

export type Position = bigint | number;

export interface Enrolment {
  subscription_id: string;
  position: Position;
}

/** A change of a node's enrolment (compliance_enrolment_history): under `subscription_id` from `position`, or ended (null). */
export interface EnrolmentChange {
  readonly position: Position;
  readonly subscription_id: string | null;
}

export interface Credential {
  readonly credential_id: string;
  readonly owner_kind: string;
  readonly owner_id: string;
  /** The node a `cse` owner names as holding its CSE-ID (review 44); null for any other and for one stored before. */
  readonly owner_node_id: string | null;
  /** The App-ID an `ae` owner names as the one its AE is an instance of (review 41); null for any other and for one stored before. */
  readonly owner_app_id: string | null;
  readonly not_after: string;
  readonly not_after_ms: number | bigint;
  status: string;
  readonly issued_position: Position;
  status_position: Position;
}

export interface Identifier {
  node_id: string;
  position: Position;
}

export interface Association {
  readonly association_id: string;
  readonly credential_id: string;
  readonly node_id: string;
  status: string;
  status_position: Position;
  /** An AE Registree's App-ID and AE-ID (null for a CSE's): its establishment names the `app-ae` identifier. */
  readonly app_id: string | null;
  readonly ae_id: string | null;
}

/**
 * A parent whose ending an association must follow, besides its credential (compliance_endings, review 249): a node
 * (revoked, or its enrolment expired), an App-ID (revoked), an App-ID's enrolment (ended, of the associations made
 * under it: the App-ID may be enrolled again).
 */
export type ParentKind = 'node' | 'application' | 'application-enrolment';
