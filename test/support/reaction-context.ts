import type { ReactionContext } from '../../projections/cascade/index.ts';

/**
 * A cascade ReactionContext for unit tests of reactionsTo: nothing depends on anything, nothing ended, compromised,
 * owned or held, but what `overrides` says. One place to give a new member its neutral answer.
 */
export const reactionContextOf = (overrides: Partial<ReactionContext>): ReactionContext => ({
  dependents: () => [],
  association: async () => ({ established: false }),
  ended: async () => undefined,
  compromised: async () => false,
  ownerOf: () => undefined,
  waitingFor: () => [],
  applicationsEnrolledWith: () => [],
  successorInUse: async () => undefined,
  cseIdOf: () => undefined,
  cseIdOfCredential: () => undefined,
  cseIdHeldNow: async () => undefined,
  credentialOfApplicationNow: async () => undefined,
  rotationSuccessorNow: async () => undefined,
  ...overrides,
});
