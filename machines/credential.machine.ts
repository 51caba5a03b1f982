import { and, assign, setup } from 'xstate';
import { heldAt, type CredentialContext } from './contexts.ts';
import { dataOf, factGuard, isOneOf, ms } from './guards.ts';
import type { EntityView, MachineEvent } from './types.ts';
import type { Owner } from '../domain/events/index.ts';

const LIVE = ['initialized', 'enrolled', 'associated'];

/**
 * Whether a credential may start a rotation now: never rotated, or its earlier rotation will not supersede it. That
 * is, the successor it named ended (expired, or revoked for any reason but being superseded in turn), or the overlap
 * ended with the successor not held by its node then (`heldAt`, from recorded history: the expiry scheduler revokes
 * the predecessor as superseded exactly when it was held, so this one stays; it may rotate again, to the same
 * successor once that is provisioned).
 */
const rotationOpen = (context: CredentialContext, previous: EntityView | undefined, at: number): boolean =>
  context.successorId === undefined ||
  isOneOf(previous, ['expired']) ||
  (isOneOf(previous, ['revoked']) && (previous?.context as { revocationReason?: string } | undefined)?.revocationReason !== 'superseded') ||
  (context.overlapEndsAt !== undefined && at >= context.overlapEndsAt && !heldAt(previous, context.overlapEndsAt));

const sameOwner = (other: EntityView | undefined, owner: Owner | undefined): boolean => {
  const theirs = (other?.context as CredentialContext | undefined)?.owner;
  return owner !== undefined && theirs !== undefined && theirs.kind === owner.kind && theirs.id === owner.id;
};

/**
 * Credential lifecycle: issued (initialized) -> provisioned into its node (enrolled; pre-provisioning or remote
 * provisioning, seed 003 11.2.1) -> associated while security associations derive from it -> expired at notAfter
 * or revoked (RFC 5280 reasons). A rotation (HLR-212, RS-16) links a successor and keeps the predecessor usable
 * until the overlap ends, when it is revoked as superseded.
 */
export const credentialMachine = setup({
  types: { context: {} as CredentialContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    validityWindowOrdered: ({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      return d !== undefined && ms(d.notBefore) < ms(d.notAfter);
    },
    /** A credential is bound to a live owner (RS-01): a node or application that exists and is not revoked or expired. */
    ownerIsLive: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      if (d === undefined) return false;
      if (d.owner.kind !== 'node' && d.owner.kind !== 'app') return true;
      return isOneOf(event.facts.owner, LIVE);
    }),
    /** A successor takes over from a live predecessor of the same owner (HLR-212). */
    predecessorIsLive: factGuard(({ event }) => {
      const d = dataOf(event, 'CredentialIssued');
      if (d?.predecessorId === undefined) return true;
      return isOneOf(event.facts.predecessor, ['enrolled', 'associated']) && sameOwner(event.facts.predecessor, d.owner);
    }),
    notExpiredYet: ({ context, event }) => event.at < context.notAfter,
    notAfterReached: ({ context, event }) => event.at >= context.notAfter,
    /** Remote provisioning authenticated on a live bootstrap credential of the same owner (seed 003, 11.2.1). */
    bootstrapIsUsable: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialProvisioned');
      if (d?.method !== 'remote-provisioning') return true;
      const bootstrap = event.facts.bootstrap;
      return d.bootstrapCredentialId !== undefined && isOneOf(bootstrap, ['enrolled', 'associated']) && sameOwner(bootstrap, context.owner);
    }),
    associationIsNew: ({ context, event }) => {
      const id = dataOf(event, 'CredentialAssociated')?.associationId;
      return id !== undefined && !context.liveAssociations.includes(id);
    },
    associationIsLive: ({ context, event }) => {
      const id = dataOf(event, 'CredentialAssociationReleased')?.associationId;
      return id !== undefined && context.liveAssociations.includes(id);
    },
    lastAssociation: ({ context }) => context.liveAssociations.length === 1,
    /**
     * The successor names this credential as its predecessor, was issued for the same owner, and is valid across the
     * end of the overlap (valid before it ends, and after): the node is never left without a valid credential. A
     * credential rotates once, unless that rotation was abandoned (`rotationOpen`).
     */
    successorLinked: factGuard(({ context, event }) => {
      const d = dataOf(event, 'CredentialRotationStarted');
      const successor = event.facts.successor?.context as CredentialContext | undefined;
      if (d === undefined || successor === undefined) return false;
      const overlapEndsAt = ms(d.overlapEndsAt);
      return (
        rotationOpen(context, event.facts.previousSuccessor, event.at) &&
        isOneOf(event.facts.successor, LIVE) &&
        sameOwner(event.facts.successor, context.owner) &&
        successor.predecessorId === context.credentialId &&
        overlapEndsAt > event.at &&
        overlapEndsAt <= context.notAfter &&
        successor.notBefore < overlapEndsAt &&
        successor.notAfter > overlapEndsAt
      );
    }),
  },
  actions: {
    addAssociation: assign(({ context, event }) => ({
      liveAssociations: [...context.liveAssociations, dataOf(event, 'CredentialAssociated')!.associationId],
    })),
    removeAssociation: assign(({ context, event }) => {
      const id = dataOf(event, 'CredentialAssociationReleased')!.associationId;
      return { liveAssociations: context.liveAssociations.filter((a) => a !== id) };
    }),
    recordRotation: assign(({ event }) => {
      const d = dataOf(event, 'CredentialRotationStarted')!;
      return { successorId: d.successorId, overlapEndsAt: ms(d.overlapEndsAt) };
    }),
    recordRevocation: assign(({ event }) => ({ revocationReason: dataOf(event, 'CredentialRevoked')!.reason, endedAt: event.at })),
    recordExpiry: assign(({ event }) => ({ endedAt: event.at })),
    recordProvisioning: assign(({ event }) => ({ provisionedAt: event.at })),
  },
}).createMachine({
  id: 'credential',
  context: ({ input }) => ({ credentialId: input.id, notBefore: 0, notAfter: 0, liveAssociations: [] }),
  initial: 'absent',
  states: {
    absent: {
      on: {
        CredentialIssued: {
          target: 'initialized',
          guard: and(['validityWindowOrdered', 'ownerIsLive', 'predecessorIsLive']),
          actions: assign(({ event }) => {
            const d = dataOf(event, 'CredentialIssued')!;
            return {
              credentialId: d.credentialId,
              kind: d.kind,
              purpose: d.purpose,
              owner: d.owner,
              fingerprint: d.fingerprint,
              notBefore: ms(d.notBefore),
              notAfter: ms(d.notAfter),
              predecessorId: d.predecessorId,
            };
          }),
        },
      },
    },
    initialized: {
      on: {
        CredentialProvisioned: { target: 'enrolled', guard: and(['notExpiredYet', 'bootstrapIsUsable']), actions: 'recordProvisioning' },
        CredentialExpired: { target: 'expired', guard: 'notAfterReached', actions: 'recordExpiry' },
        CredentialRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    enrolled: {
      on: {
        CredentialAssociated: { target: 'associated', guard: 'associationIsNew', actions: 'addAssociation' },
        CredentialRotationStarted: { guard: 'successorLinked', actions: 'recordRotation' },
        CredentialExpired: { target: 'expired', guard: 'notAfterReached', actions: 'recordExpiry' },
        CredentialRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    associated: {
      on: {
        CredentialAssociated: { guard: 'associationIsNew', actions: 'addAssociation' },
        CredentialAssociationReleased: [
          { target: 'enrolled', guard: and(['associationIsLive', 'lastAssociation']), actions: 'removeAssociation' },
          { guard: 'associationIsLive', actions: 'removeAssociation' },
        ],
        CredentialRotationStarted: { guard: 'successorLinked', actions: 'recordRotation' },
        CredentialExpired: { target: 'expired', guard: 'notAfterReached', actions: 'recordExpiry' },
        CredentialRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    expired: { type: 'final' },
    revoked: { type: 'final' },
  },
});
