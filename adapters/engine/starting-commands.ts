import { COMMAND_CATALOG, COMMAND_TYPES, type CommandType } from '../../domain/commands/index.ts';
import { EVENT_KIND } from '../../domain/events/index.ts';
import { MACHINES } from '../../machines/index.ts';
import type { AnyStateMachine } from 'xstate';

/** The event types a machine accepts in its initial state (an entity that has no events yet). */
const startingEvents = (machine: AnyStateMachine): ReadonlySet<string> => {
  const initial = machine.root.initial.target[0];
  return new Set(initial === undefined ? [] : initial.ownEvents);
};

/**
 * Commands that start an entity: their event is accepted by the target's machine only in its initial state, so on a
 * cache miss their target stream almost never exists (a registration, the pseudonym stream of a rotation). Derived
 * from the machines, so a new machine or command needs no list kept in step. Only what the engine assumes to save a
 * read (entity-cache.ts `cachedOrNew`); a wrong guess costs a retry, never a wrong decision.
 */
export const STARTING_COMMANDS: ReadonlySet<CommandType> = new Set(
  COMMAND_TYPES.filter((type) => {
    const event = COMMAND_CATALOG[type].event;
    const machine = MACHINES[EVENT_KIND[event]] as AnyStateMachine;
    if (!startingEvents(machine).has(event)) return false;
    // Accepted in another state too (a root-level transition, a later state): a cache miss may well be an entity.
    const elsewhere = Object.values(machine.root.states).some((node) => node !== machine.root.initial.target[0] && node.ownEvents.includes(event));
    return !elsewhere && !machine.root.ownEvents.includes(event);
  }),
);
