import { and, assign, setup } from 'xstate';
import type { ApplicationContext, CredentialContext } from './contexts.ts';
import { dataOf, factGuard, isOneOf } from './guards.ts';
import type { MachineEvent } from './types.ts';

/**
 * M2M Application Enrolment (seed 003, 11.2.2): an App-ID is registered, then associated with a security
 * credential; its instances (AEs) associate through it; revoking the App-ID revokes access for all instances.
 * An application has no expiry of its own: its authorisation ends with its credential's validity.
 */
export const applicationMachine = setup({
  types: { context: {} as ApplicationContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    credentialIsForThisApp: factGuard(({ context, event }) => {
      const credential = event.facts.credential;
      const c = credential?.context as CredentialContext | undefined;
      return (
        isOneOf(credential, ['initialized', 'enrolled', 'associated']) &&
        c?.purpose === 'application' &&
        c.owner?.kind === 'app' &&
        c.owner.id === context.appId
      );
    }),
    instanceIsNew: ({ context, event }) => {
      const id = dataOf(event, 'ApplicationInstanceAssociated')?.associationId;
      return id !== undefined && !context.liveInstances.some((i) => i.associationId === id);
    },
    instanceIsLive: ({ context, event }) => {
      const id = dataOf(event, 'ApplicationInstanceReleased')?.associationId;
      return id !== undefined && context.liveInstances.some((i) => i.associationId === id);
    },
    lastInstance: ({ context }) => context.liveInstances.length === 1,
  },
  actions: {
    addInstance: assign(({ context, event }) => {
      const d = dataOf(event, 'ApplicationInstanceAssociated')!;
      return { liveInstances: [...context.liveInstances, { associationId: d.associationId, aeId: d.aeId }] };
    }),
    removeInstance: assign(({ context, event }) => {
      const id = dataOf(event, 'ApplicationInstanceReleased')!.associationId;
      return { liveInstances: context.liveInstances.filter((i) => i.associationId !== id) };
    }),
    recordRevocation: assign(({ event }) => ({ revocationReason: dataOf(event, 'ApplicationRevoked')!.reason })),
  },
}).createMachine({
  id: 'application',
  context: ({ input }) => ({ appId: input.id, liveInstances: [] }),
  initial: 'absent',
  states: {
    absent: {
      on: {
        ApplicationRegistered: {
          target: 'initialized',
          actions: assign(({ event }) => ({ appId: dataOf(event, 'ApplicationRegistered')!.appId })),
        },
      },
    },
    initialized: {
      on: {
        ApplicationEnrolled: {
          target: 'enrolled',
          guard: 'credentialIsForThisApp',
          actions: assign(({ event }) => ({ credentialId: dataOf(event, 'ApplicationEnrolled')!.credentialId })),
        },
        ApplicationRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    enrolled: {
      on: {
        ApplicationInstanceAssociated: { target: 'associated', guard: 'instanceIsNew', actions: 'addInstance' },
        ApplicationRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    associated: {
      on: {
        ApplicationInstanceAssociated: { guard: 'instanceIsNew', actions: 'addInstance' },
        ApplicationInstanceReleased: [
          { target: 'enrolled', guard: and(['instanceIsLive', 'lastInstance']), actions: 'removeInstance' },
          { guard: 'instanceIsLive', actions: 'removeInstance' },
        ],
        ApplicationRevoked: { target: 'revoked', actions: 'recordRevocation' },
      },
    },
    revoked: { type: 'final' },
  },
});
