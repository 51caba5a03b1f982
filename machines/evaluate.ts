import { getNextTransitions, initialTransition, transition, type AnyStateMachine, type MachineSnapshot } from 'xstate';
import { illegalTransition, notFound, type CredenceError } from '../domain/errors.ts';
import type { EntityKind } from '../domain/streams.ts';
import { applicationMachine } from './application.machine.ts';
import { associationMachine } from './association.machine.ts';
import { credentialMachine } from './credential.machine.ts';
import { nodeMachine } from './node.machine.ts';
import { subscriptionMachine } from './subscription.machine.ts';
import type { EntityView, MachineEvent } from './types.ts';

export const MACHINES = {
  subscription: subscriptionMachine,
  node: nodeMachine,
  credential: credentialMachine,
  application: applicationMachine,
  association: associationMachine,
} as const satisfies Record<EntityKind, AnyStateMachine>;

// The machines share one event type; a common snapshot type keeps the callers free of per-kind generics.
export type EntitySnapshot = MachineSnapshot<any, MachineEvent, any, any, any, any, any, any>;

export const initialSnapshot = (kind: EntityKind, id: string): EntitySnapshot =>
  initialTransition(MACHINES[kind] as AnyStateMachine, { id })[0] as EntitySnapshot;

export const stateOf = (snapshot: EntitySnapshot): string => String(snapshot.value);

export const viewOf = (snapshot: EntitySnapshot): EntityView => ({
  state: stateOf(snapshot),
  context: snapshot.context as Record<string, unknown>,
});

/** Event types the current state has a transition for, whatever their guards say. */
export const allowedEvents = (snapshot: EntitySnapshot): string[] =>
  snapshot.status !== 'active' ? [] : [...new Set(getNextTransitions(snapshot).map((t) => t.eventType))].sort();

export type Verdict =
  | { readonly ok: true; readonly snapshot: EntitySnapshot }
  | { readonly ok: false; readonly state: string; readonly allowed: readonly string[]; readonly rule?: string };

type GuardRef = string | { type?: string; guards?: GuardRef[] } | ((...args: never[]) => unknown);

const guardNames = (guard: unknown): string[] => {
  if (guard === undefined || guard === null) return [];
  if (typeof guard === 'string') return [guard];
  const nested = (guard as { guards?: GuardRef[] }).guards;
  if (Array.isArray(nested)) return nested.flatMap(guardNames);
  const type = (guard as { type?: string }).type;
  return typeof type === 'string' ? [type] : [];
};

/** The first named guard that refuses the event, to tell the caller which rule it broke. */
const refusingRule = (kind: EntityKind, snapshot: EntitySnapshot, event: MachineEvent): string | undefined => {
  const impls = (MACHINES[kind] as AnyStateMachine).implementations.guards as Record<
    string,
    (args: { context: unknown; event: MachineEvent }) => boolean
  >;
  const candidates = getNextTransitions(snapshot).filter((t) => t.eventType === event.type);
  let rule: string | undefined;
  for (const t of candidates) {
    const failing = guardNames(t.guard).find((name) => impls[name]?.({ context: snapshot.context, event }) === false);
    if (failing !== undefined && rule === undefined) rule = failing;
  }
  return rule;
};

/**
 * The single place that decides whether an event is legal for an entity: XState's pure `transition`, no actors,
 * no timers. Used alike by the command pipeline (candidate events) and by replay (stored events).
 */
export const evaluate = (kind: EntityKind, snapshot: EntitySnapshot, event: MachineEvent): Verdict => {
  if (snapshot.status === 'active' && snapshot.can(event)) {
    const [next] = transition(MACHINES[kind] as AnyStateMachine, snapshot, event);
    return { ok: true, snapshot: next as EntitySnapshot };
  }
  const allowed = allowedEvents(snapshot);
  const rule = allowed.includes(event.type) ? refusingRule(kind, snapshot, event) : undefined;
  return { ok: false, state: stateOf(snapshot), allowed, ...(rule !== undefined ? { rule } : {}) };
};

/**
 * The typed error for a refused event. On a stream that does not exist only a creating event can be legal, so
 * anything else there means the entity is unknown (not_found) rather than in the wrong state.
 */
export const refusalError = (
  kind: EntityKind,
  streamId: string,
  exists: boolean,
  attempted: string,
  verdict: Extract<Verdict, { ok: false }>,
): CredenceError => {
  if (!exists && !verdict.allowed.includes(attempted)) return notFound(streamId, kind);
  return illegalTransition({
    streamId,
    state: verdict.state,
    attempted,
    allowed: verdict.allowed,
    ...(verdict.rule !== undefined ? { rule: verdict.rule } : {}),
  });
};
