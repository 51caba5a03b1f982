/**
 * Review 356: a rule a version added for an event it did not hold to before (RULES_SINCE) judges new commands, and
 * replay names a stored event breaking it as breaking a newer rule; loading the entity (the engine's rebuild of history
 * it accepted, a trusted event) must not refuse that event. `terminatedBeforeItsEnd` (v14) was a plain guard: a
 * termination v13 stored past its subscription's notAfter made the subscription a broken history, so even its
 * expiry and its nodes' enrolment expiries were refused. Every such rule is marked as a fact guard, which a trusted
 * event passes whatever it reads; a plain guard is asked and refuses this empty event.
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { EVENT_KIND, type EventType } from '../domain/events/index.ts';
import { MACHINES, type MachineEvent } from '../machines/index.ts';
import { RULES_SINCE } from '../projections/replay/machines-fingerprint.ts';

type Guard = (args: { context: unknown; event: MachineEvent }) => boolean;

const passesTrusted = (guard: Guard, eventType: string): boolean => {
  const event = { type: eventType, data: {}, facts: {}, at: 0, trusted: true } as unknown as MachineEvent;
  try {
    return guard({ context: { notAfter: 0, notBefore: 0 }, event }) === true;
  } catch {
    return false;
  }
};

describe('a rule newer than the events it judges', () => {
  it.each(RULES_SINCE.map((r) => [r.rule, r.eventType, r.since] as const))('%s on %s (%s) lets a stored event load', (rule, eventType) => {
    const machine = MACHINES[EVENT_KIND[eventType as EventType]] as AnyStateMachine;
    const guard = (machine.implementations.guards as Record<string, Guard | undefined>)[rule];
    expect(guard, `${rule} is a guard of the ${EVENT_KIND[eventType as EventType]} machine`).toBeTypeOf('function');
    expect(passesTrusted(guard!, eventType)).toBe(true);
  });
});
