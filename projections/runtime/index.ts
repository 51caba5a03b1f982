export { ProjectionRunner } from './runner.ts';
export type { RunnerOptions } from './runner.ts';
export type { Projection, ProjectionLag } from './types.ts';
export { readCheckpoint } from './checkpoints.ts';
export { prepared } from './statements.ts';
