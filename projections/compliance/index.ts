export { complianceProjection } from './projection.ts';
export { COMPLIANCE_EVENT_TYPES } from './event-types.ts';
export { revocations, actionsOfActor, provisionedUnder, subscriptionCreated, expiringWithin, danglingAssociations, danglingCredentials } from './queries.ts';
export type { RevocationRow, ProvisionedRow, ExpiringRow, DanglingAssociationRow, DanglingCredentialRow } from './queries.ts';
export { answerQuery, positionOfAfter, unknownSubscription, COMPLIANCE_QUERIES, COMPLIANCE_QUERY_NAMES, DEFAULT_ROWS, MAX_ROWS } from './catalog.ts';
export type { ComplianceAnswer, ComplianceQuery, ComplianceQueryName } from './catalog.ts';
export { CASCADE_PENDING, COMPLIANCE_READ_MODELS, readModelsCountedFor } from './read-models-counted.ts';
