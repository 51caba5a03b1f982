export { ProjectionRunner } from './runner.ts';
export type { RunnerOptions } from './runner-options.ts';
export type { OpenBatch, Projection, ProjectionLag, QueryIndex, ReactionInFlight, ReadModelRules, ResetCause } from './types.ts';
export { checkpointsOfAnotherLog, describeOtherLog, notInLog, recordAtPosition, type OtherLog } from './log-check.ts';
export { deleteCheckpoint, readCheckpoint } from './checkpoints.ts';
export { projectionLag } from './lag.ts';
export { prepared } from './statements.ts';
export { describeSchemaChange, ensureSchemaVersion, type SchemaChange } from './schema-version.ts';
export { describeRulesChange, ReadModelRulesChanged, type OnRulesChanged, type RulesChange } from './rules.ts';
export { BatchSlot } from './batch-slot.ts';
export { roundFailure } from './round-failure.ts';
// A committed read on the writing connection (an in-memory read model, adapters/runtime/pki-committed.ts) waits on it
// only while pki rows are held in an open batch; a read model in a file is read through a second connection instead.
export { writeLockOf } from './batch.ts';
export { ReactionInTurn } from './reactions-in-flight.ts';
export { ownOrTaken, recordedBy, type CommandIdTaken } from './own-commands.ts';
