export { cascadeProcessManager, PROCESS_MANAGER_ACTOR } from './process-manager.ts';
export type { CascadeLog } from './process-manager.ts';
export { reactionsTo, CASCADE_EVENT_TYPES } from './reactions.ts';
export type { Outcome, Reaction, ReactionContext, Unresolved } from './reactions.ts';
export { deadLetterCount, deadLetters } from './dead-letters.ts';
export type { DeadLetter } from './dead-letters.ts';
export { walkDependents, endingOf, dependentEnding, causeOf, cascadeFrom } from './dependency-graph.ts';
export type { GraphDependent, DependentsWalk } from './dependency-graph.ts';
export type { Ending, Relation } from './dependents.ts';
