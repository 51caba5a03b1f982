/** The command side: the engine and its pipeline of named steps. */
export { createEngine } from './engine.ts';
export type { Engine, EngineOptions } from './engine.ts';
export type { AdmissionStep } from './admission.ts';
export { randomCommandId } from './command-ids.ts';
