export { TransparencyProjection, type TransparencyProjectionOptions } from './transparency-projection.ts';
export { signCheckpoint } from './sign-checkpoint.ts';
export { auditStoreAgainstLog, type AuditedRow, type AuditReport, type TamperKind } from './audit.ts';
export { collectEvidence } from './evidence.ts';
