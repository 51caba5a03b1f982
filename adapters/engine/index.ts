/** The command side: the engine and its pipeline of named steps. */
export { createEngine } from './engine.ts';
export type { Engine, EngineOptions } from './engine.ts';
export type { PeekedEntity } from './peek-memo.ts';
export type { AdmissionStep } from './admission.ts';
export { DEFAULT_CACHE_BYTES } from './entity-cache.ts';
export type { EntityCacheStats } from './entity-cache.ts';
export { randomCommandId } from './command-ids.ts';
export { StreamLanes } from './stream-lanes.ts';
