// A machine outside the flat shape transition plans serve (nested states, eventless transitions, entry actions) is
// stepped by XState's own `machine.transition` on every event, with the same verdicts and snapshots.
import { describe, expect, it } from 'vitest';
import { assign, initialTransition, setup, transition, type AnyActorScope, type AnyStateMachine } from 'xstate';
import { TransitionPlans } from '../machines/transition-plan.ts';

const nested = setup({
  types: { context: {} as { count: number; log: string[] }, events: {} as { type: 'TICK' } | { type: 'RESET' } | { type: 'STOP' } },
  guards: { under3: ({ context }) => context.count < 3 },
}).createMachine({
  id: 'nested',
  context: { count: 0, log: [] },
  initial: 'running',
  states: {
    running: {
      initial: 'idle',
      entry: assign({ log: ({ context }) => [...context.log, 'enter running'] }),
      on: { STOP: 'stopped', RESET: { target: '.idle', actions: assign({ count: 0 }) } },
      states: {
        idle: { on: { TICK: { guard: 'under3', target: 'busy', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
        busy: { always: { target: 'idle', actions: assign({ log: ({ context }) => [...context.log, 'back to idle'] }) } },
      },
    },
    stopped: { type: 'final' },
  },
});

/** The actor scope of a real `transition` call, as machines/evaluate.ts captures it. */
const scopeOf = (machine: AnyStateMachine): AnyActorScope => {
  let scope: AnyActorScope | undefined;
  const spy = Object.create(machine) as AnyStateMachine;
  spy.transition = (snapshot, event, actorScope) => {
    scope = actorScope;
    return machine.transition(snapshot, event, actorScope);
  };
  transition(spy, initialTransition(machine)[0], { type: 'xstate.init.scope' } as never);
  return scope!;
};

describe('transition plans on a machine that is not flat', () => {
  it('fall back to machine.transition for every event: the same snapshots, and no step where XState takes none', () => {
    const plans = new TransitionPlans(nested, scopeOf(nested));
    expect(plans.flat).toBe(false);
    let planned = initialTransition(nested)[0];
    let reference = planned;
    const events = ['TICK', 'TICK', 'RESET', 'TICK', 'TICK', 'TICK', 'TICK', 'STOP', 'TICK'] as const;
    const taken: boolean[] = [];
    for (const type of events) {
      const next = plans.step(planned as never, { type });
      const expected = transition(nested, reference, { type })[0];
      const xstateTook = expected !== reference || reference.can({ type });
      taken.push(next !== undefined);
      expect(next !== undefined).toBe(xstateTook);
      if (next !== undefined) {
        expect((next as typeof expected).value).toEqual(expected.value);
        expect((next as typeof expected).context).toEqual(expected.context);
        expect((next as typeof expected).status).toBe(expected.status);
        planned = next as typeof planned;
      }
      reference = expected;
    }
    // The guard refuses the fourth TICK after RESET (count 3), and nothing is taken once the machine is done.
    expect(taken).toEqual([true, true, true, true, true, true, false, true, false]);
    expect(reference.value).toBe('stopped');
    expect(reference.context.log).toEqual(['enter running', 'back to idle', 'back to idle', 'back to idle', 'back to idle', 'back to idle']);
  });
});
