export { auditTrail } from './projection.ts';
export type { AuditTrailOptions } from './projection.ts';
export { SIGNATURE_PRESENCE_RULES, signaturePresence } from './signature.ts';
export type { SignatureCheck, SignatureJudgement, SignatureStatus } from './signature.ts';
export { timeline, timelinePage, actionsOf, actionsWithToken, auditedOf, pageBounds, windowBounds } from './queries.ts';
export type { AuditedColumns, AuditEntry, Page, TimeWindow } from './queries.ts';
export { stateAt } from './state-at.ts';
export type { StateAt } from './state-at.ts';
