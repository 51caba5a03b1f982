export { createEngine } from './engine.ts';
export type { Engine, EngineOptions, CommandOutcome } from './engine.ts';
export { BrokenHistoryError, applyStored, emptyEntity } from './entities.ts';
export type { LoadedEntity } from './entities.ts';
export { eventIdFor, derivedCommandId, randomCommandId } from './event-ids.ts';
