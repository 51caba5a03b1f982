import { assign, setup } from 'xstate';
import { dataOf, factGuard, isOneOf } from './guards.ts';
import type { MachineEvent } from './types.ts';

export interface PseudonymContext {
  readonly pseudonym: string;
  readonly nodeId?: string;
  readonly epoch?: number;
  /** How many times auditors resolved it. */
  readonly resolutions: number;
}

/**
 * One stream per pseudonym (seed 004 trust and privacy; SER-011, SER-018, SER-025): it comes into use when its
 * node rotates to it, and from then on only auditors may resolve it. A pseudonym is never reused, so a second
 * rotation onto the same value is refused. It stays resolvable after the node moves on: past public events
 * carry it. (That a rotation lands in the stream named after its pseudonym is checked for every kind by the
 * engine and by replay: an event addressed to another entity than its stream is a broken history.)
 */
export const pseudonymMachine = setup({
  types: { context: {} as PseudonymContext, events: {} as MachineEvent, input: {} as { id: string } },
  guards: {
    /**
     * A revoked or expired node takes no new pseudonym: there is nothing left for it to do unobserved. Its first one
     * (`initial`) is another matter: integrators were shown the node's events under it from its registration on, so it
     * is recorded whatever became of the node before the rotation ran (found in review: a node revoked before the
     * rotation reacted to its registration was published under a pseudonym no auditor could resolve). At any epoch: a
     * node registered again after a restore takes its first past its epoch mark (review 303). Only the rotation's own
     * reaction sends `initial` (an operator's is refused, rule `demand_only`).
     */
    nodeIsLive: factGuard(({ event }) => {
      if (isOneOf(event.facts.node, ['initialized', 'enrolled', 'associated'])) return true;
      const d = dataOf(event, 'PseudonymRotated');
      return d?.trigger === 'initial' && event.facts.node !== undefined;
    }),
  },
}).createMachine({
  id: 'pseudonym',
  context: ({ input }) => ({ pseudonym: input.id, resolutions: 0 }),
  initial: 'absent',
  states: {
    absent: {
      on: {
        PseudonymRotated: {
          target: 'active',
          guard: 'nodeIsLive',
          actions: assign(({ event }) => {
            const d = dataOf(event, 'PseudonymRotated')!;
            return { pseudonym: d.pseudonym, nodeId: d.nodeId, epoch: d.epoch };
          }),
        },
      },
    },
    active: {
      on: { PseudonymResolved: { actions: assign(({ context }) => ({ resolutions: context.resolutions + 1 })) } },
    },
  },
});
