export { MACHINES, evaluate, machineEvent, refusalError, initialSnapshot, stateOf, viewOf } from './evaluate.ts';
export type { EntitySnapshot, Verdict } from './evaluate.ts';
export { certifiedKeyOf, gatherFacts, gatherFactsAsync } from './facts.ts';
export type { FactReader, KeyHolderReader } from './facts.ts';
export { readStored } from './stored.ts';
export type { ReadStored } from './stored.ts';
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
export { handoverInstant, heldAt, rotationOutcomeAt, supersededInTurn } from './credential.machine.ts';
export { enrolmentEndReason } from './application.machine.ts';
