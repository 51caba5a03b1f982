export { ProjectionRunner } from './runner.ts';
export type { RunnerOptions } from './runner.ts';
export type { OpenBatch, Projection, ProjectionLag, QueryIndex } from './types.ts';
export { readCheckpoint } from './checkpoints.ts';
export { prepared } from './statements.ts';
export { ensureSchemaVersion } from './schema-version.ts';
export { BatchSlot } from './batch-slot.ts';
// Readers that must see only committed read-model state (CRLs, OCSP: adapters/runtime/pki-committed.ts) wait on it.
export { writeLockOf } from './batch.ts';
