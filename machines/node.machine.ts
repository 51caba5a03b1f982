import { and, assign, setup } from 'xstate';
import type { NodeContext, SubscriptionContext } from './contexts.ts';
import { associationHasEnded, dataOf, establishedAssociation, factGuard, isOneOf, subscriptionServesAt } from './guards.ts';
import { isWithin, type MachineEvent } from './types.ts';

const subscriptionOf = (event: MachineEvent) => event.facts.subscription;

/**
 * M2M Node lifecycle: Initialization at the factory (seed 004) -> enrolment under an M2M Service Subscription
 * (seed 003, 11.2.1) -> associated while at least one security association is alive -> expired when its
 * subscription ends, or revoked (decommissioned / compromised).
 */
export const nodeMachine = setup({
  types: { context: {} as NodeContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    /**
     * Review 288 (machines v11): the bootstrap (factory) credential a registration names is not recorded yet. It is
     * issued after its node exists (ownerIsLive), so one recorded already is another node's, or this one's by no
     * right: `registerNode meter-2` naming meter-1's bootstrap or service credential was accepted, and the pseudonym
     * fold named meter-1's credential under meter-2's epochs. Read as a fact (machines/facts.ts), held at the commit;
     * the client's check (device init's mustBeNew) raced, and `node register --bootstrap-credential` had none.
     */
    bootstrapNotYetRecorded: factGuard(({ event }) => event.facts.bootstrap === undefined),
    subscriptionExists: factGuard(({ event }) => subscriptionOf(event) !== undefined),
    subscriptionActive: factGuard(({ event }) => {
      const sub = subscriptionOf(event);
      return isOneOf(sub, ['active']) && isWithin(event.at, sub!.context as unknown as SubscriptionContext);
    }),
    /**
     * A move to another subscription (RS-17) is made while the one the node moves off still serves it: active and
     * before its notAfter (seed 003, 11.2.1). Once it was terminated or has lapsed, its nodes expire with it (README "A
     * lapsed subscription retires its nodes for good"), even before the scheduler or the cascade records that: found
     * in review 234, a node moved then escaped the expiry, the cascade's expireNodeEnrolment refused as not current.
     * Read only for a move (facts.ts): a first enrolment, or one under the same subscription, has none.
     */
    currentSubscriptionServes: factGuard(({ event }) =>
      !('currentSubscription' in event.facts) || subscriptionServesAt(event.facts.currentSubscription, event.at)),
    subscriptionIsCurrent: ({ context, event }) =>
      dataOf(event, 'NodeEnrolmentExpired')?.subscriptionId === context.subscriptionId,
    subscriptionEnded: factGuard(({ event }) => {
      const sub = subscriptionOf(event);
      if (sub === undefined) return false;
      return sub.state !== 'active' || event.at >= (sub.context as unknown as SubscriptionContext).notAfter;
    }),
    associationIsLive: ({ context, event }) => {
      const id = dataOf(event, 'NodeAssociationReleased')?.associationId;
      return id !== undefined && context.liveAssociations.includes(id);
    },
    associationIsNew: ({ context, event }) => {
      const id = dataOf(event, 'NodeAssociated')?.associationId;
      return id !== undefined && !context.liveAssociations.includes(id);
    },
    /**
     * Review 234: a record (or release) of an association on this node is of one established for this node (read as a
     * fact, machines/facts.ts): the cascade records it once the handshake is, perhaps after the association ended. The
     * id alone was checked, so a forged NodeAssociated for an association that does not exist, or is another node's,
     * kept the node associated for good, and replay found nothing.
     */
    associationNamesThisNode: factGuard(({ context, event }) => establishedAssociation(event.facts.association)?.nodeId === context.nodeId),
    /** A release follows the association's end (the cascade's reaction to its revocation or expiry), never a live one's. */
    associationEnded: factGuard(({ event }) => associationHasEnded(event.facts.association)),
    lastAssociation: ({ context }) => context.liveAssociations.length === 1,
  },
  actions: {
    recordEnrolment: assign(({ event }) => {
      const d = dataOf(event, 'NodeEnrolled')!;
      return { subscriptionId: d.subscriptionId, cseId: d.cseId };
    }),
    addAssociation: assign(({ context, event }) => ({
      liveAssociations: [...context.liveAssociations, dataOf(event, 'NodeAssociated')!.associationId],
    })),
    removeAssociation: assign(({ context, event }) => {
      const id = dataOf(event, 'NodeAssociationReleased')!.associationId;
      return { liveAssociations: context.liveAssociations.filter((a) => a !== id) };
    }),
    recordRevocation: assign(({ event }) => ({ revocationReason: dataOf(event, 'NodeRevoked')!.reason })),
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({ nodeId: input.id, liveAssociations: [] }),
  initial: 'absent',
  on: {},
  states: {
    absent: {
      on: {
        NodeRegistered: {
          target: 'initialized',
          guard: 'bootstrapNotYetRecorded',
          actions: assign(({ event }) => {
            const d = dataOf(event, 'NodeRegistered')!;
            return { nodeId: d.nodeId, profile: d.profile, bootstrapCredentialId: d.bootstrapCredentialId };
          }),
        },
      },
    },
    initialized: {
      on: {
        NodeEnrolled: { target: 'enrolled', guard: and(['subscriptionExists', 'subscriptionActive']), actions: 'recordEnrolment' },
        NodeRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    enrolled: {
      on: {
        // A change of subscription (RS-17) is a new enrolment under another active subscription, made while the one
        // it leaves still serves the node.
        NodeEnrolled: { guard: and(['subscriptionExists', 'subscriptionActive', 'currentSubscriptionServes']), actions: 'recordEnrolment' },
        NodeAssociated: { target: 'associated', guard: and(['associationIsNew', 'associationNamesThisNode']), actions: 'addAssociation' },
        NodeEnrolmentExpired: { target: 'expired', guard: and(['subscriptionIsCurrent', 'subscriptionEnded']) },
        NodeRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    associated: {
      on: {
        NodeEnrolled: { guard: and(['subscriptionExists', 'subscriptionActive', 'currentSubscriptionServes']), actions: 'recordEnrolment' },
        NodeAssociated: { guard: and(['associationIsNew', 'associationNamesThisNode']), actions: 'addAssociation' },
        NodeAssociationReleased: [
          { target: 'enrolled', guard: and(['associationIsLive', 'associationNamesThisNode', 'associationEnded', 'lastAssociation']), actions: 'removeAssociation' },
          { guard: and(['associationIsLive', 'associationNamesThisNode', 'associationEnded']), actions: 'removeAssociation' },
        ],
        NodeEnrolmentExpired: { target: 'expired', guard: and(['subscriptionIsCurrent', 'subscriptionEnded']) },
        NodeRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    expired: { type: 'final' },
    revoked: { type: 'final' },
  },
});
