export { MACHINES, evaluate, refusalError, initialSnapshot, stateOf, viewOf, allowedEvents } from './evaluate.ts';
export type { EntitySnapshot, Verdict } from './evaluate.ts';
export { factSourcesOf } from './facts.ts';
export type { EntityView, Facts, FactName, FactSources, MachineEvent } from './types.ts';
export type {
  ApplicationContext,
  AssociationContext,
  CredentialContext,
  NodeContext,
  SubscriptionContext,
} from './contexts.ts';
export { applyStored, emptyEntity, BrokenHistoryError } from './rebuild.ts';
export type { LoadedEntity } from './rebuild.ts';
