import type { Projection } from '../runtime/index.ts';
import { applyCompliance, COMPLIANCE_EVENT_TYPES } from './apply.ts';
import { COMPLIANCE_QUERY_INDEXES, resetComplianceTables, setupComplianceTables } from './tables.ts';

/** The compliance read models: revocations, enrolments, credentials, provisioning and associations. */
export const complianceProjection = (): Projection => ({
  name: 'compliance',
  eventTypes: COMPLIANCE_EVENT_TYPES,
  queryIndexes: COMPLIANCE_QUERY_INDEXES,
  setup: setupComplianceTables,
  reset: resetComplianceTables,
  apply: applyCompliance,
});
