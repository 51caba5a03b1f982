import type { Projection } from '../runtime/index.ts';
import { applyCompliance, COMPLIANCE_EVENT_TYPES } from './apply.ts';
import { resetComplianceTables, setupComplianceTables } from './tables.ts';

/** The compliance read models: revocations, enrolments, credentials, provisioning and associations. */
export const complianceProjection = (): Projection => ({
  name: 'compliance',
  eventTypes: COMPLIANCE_EVENT_TYPES,
  setup: setupComplianceTables,
  reset: resetComplianceTables,
  apply: applyCompliance,
});
