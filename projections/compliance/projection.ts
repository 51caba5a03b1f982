import type { DecodedEvent } from '../../domain/stored.ts';
import { BatchSlot, ensureSchemaVersion, type Projection } from '../runtime/index.ts';
import { applyComplianceMany } from './batch.ts';
import { COMPLIANCE_EVENT_TYPES } from './event-types.ts';
import { COMPLIANCE_QUERY_INDEXES, COMPLIANCE_TABLES, resetComplianceTables, setupComplianceTables } from './tables.ts';

const COMPLIANCE_SCHEMA_VERSION = 12;

/**
 * The compliance read models: revocations, enrolments, credentials, provisioning and associations. In a batch the
 * events are held and applied together when it ends, each row read and written once; live, each event is applied
 * at once as a batch of one: the rules have one definition (batch.ts).
 */
export const complianceProjection = (): Projection => {
  const batch = new BatchSlot<DecodedEvent[]>();
  return {
    name: 'compliance',
    eventTypes: COMPLIANCE_EVENT_TYPES,
    queryIndexes: COMPLIANCE_QUERY_INDEXES,
    setup(db) {
      // Version 2: a revoked node's enrolment ends (the `provisioned` query listed credentials provisioned after it).
      // Version 3: a credential issued to a CSE-ID or AE-ID counts under its node's enrolment (identifiers table).
      // Version 4: a credential issued to a CSE-ID that names its node (review 41) counts under that node's enrolment
      // (`owner_node_id`), not the identifier's holder at the provisioning (review 44).
      // Version 5: a credential issued to an AE-ID that names its App-ID (review 41) counts under the node of that
      // App-ID's instance under the AE-ID (`app-ae` identifiers, `owner_app_id`), not of whichever association used the
      // AE-ID last, another App-ID's included (RS-01, as the cascade since review 44).
      // Version 6 (review 48): a credential issued to a CSE-ID or AE-ID and provisioned before any event named the
      // identifier (pre-provisioning: issue, provision, then the AE's first association) waits for the first that does
      // and counts under that node's enrolment then (compliance_pending_provisionings); it was never listed.
      // Version 7 (review 49): an AE-ID's credential that names its App-ID counts under the node that App-ID's instance
      // was last established on (an association's App-ID and AE-ID are kept for it), as the cascade links it: a pending
      // one was settled at the first association configured, for good, a typo's node never established included.
      // Version 8 (review 101): a provisioned row is listed at the event that wrote it (`listed_position`), which the
      // query pages by, so a row held back lands ahead of a pager, not behind it; a held-back one counts under the
      // enrolment its node held at the provisioning, kept with every change of enrolment (compliance_enrolment_history).
      // Version 9 (review 155): a provisioning is listed under a subscription only while that subscription is in force
      // (not ended by a termination or expiry recorded before it, and before its notAfter): compliance_subscriptions,
      // and a held-back provisioning keeps its instant (`at`).
      // Version 10 (review 197): a credential's revocation is dated when it occurred, as the CRL's invalidityDate (its
      // revocationDate where it has none) and OCSP's invalidityDate give it (projections/revocation-instant): `at` and
      // `occurred_at` say that instant, `recorded_at` the recording where later; the rotations under way and the late
      // lapses it reads (compliance_rotations, compliance_lapses).
      // Version 11 (review 249): a node's ending, an App-ID's revocation and an App-ID's enrolment's end are recorded
      // (compliance_endings), with where each association was configured (compliance_association_configurations), so
      // that dangling-associations lists an association left live under any of them, not under its credential alone.
      // Version 12 (review 305): each revocation keeps when it was recorded (`recorded_ms`, indexed), which `by=recorded`
      // windows by; a credential's reason raised to keyCompromise leaves its status position at its first revocation.
      // A read model written before is rebuilt from the log.
      ensureSchemaVersion(db, 'compliance', COMPLIANCE_SCHEMA_VERSION, COMPLIANCE_TABLES);
      setupComplianceTables(db);
    },
    reset: resetComplianceTables,
    apply(db, e) {
      const held = batch.held(db);
      if (held !== undefined) held.push(e);
      else applyComplianceMany(db, [e]);
    },
    beginBatch: (db) => batch.open(db, [], applyComplianceMany),
  };
};
