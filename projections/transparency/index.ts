export { TransparencyProjection, type TransparencyProjectionOptions } from './transparency-projection.ts';
export { describeRefusal, TransparencyLogOfAnotherLog } from './log-refusal.ts';
export { CheckpointWitnessOfAnotherLog, holdToWitness, signCheckpoint, signNote, TransparencyLogForked } from './sign-checkpoint.ts';
export { auditStoreAgainstLog } from './audit.ts';
export type { AuditedRow, AuditReport, TamperKind, UnverifiedKind } from './audit-report.ts';
export { collectEvidence, exportEvidence, LEAVES_PER_TURN, tampered, type CollectedEvidence } from './evidence.ts';
export { indexLegacyLeaves } from './stream-index.ts';
export { alteredLeafMessage, alteredLeafWitness, leafGapAt, leafGapMessage, storedEventWitness, unwitnessedDisagreement, type LeafWitness, type SignedTree } from './altered-leaf.ts';
