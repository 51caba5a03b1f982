import { getNextTransitions, initialTransition, transition, type AnyStateMachine, type MachineSnapshot } from 'xstate';
import { illegalTransition, notFound, type CredenceError } from '../domain/errors.ts';
import type { EntityKind } from '../domain/streams.ts';
import { applicationMachine, applicationRefusals } from './application.machine.ts';
import { associationMachine } from './association.machine.ts';
import { associationRefusals } from './association.refusals.ts';
import { credentialMachine } from './credential.machine.ts';
import { credentialRefusals } from './credential.refusals.ts';
import { nodeMachine } from './node.machine.ts';
import { nodeRefusals } from './node.refusals.ts';
import { pseudonymMachine } from './pseudonym.machine.ts';
import { pseudonymRefusals } from './pseudonym.refusals.ts';
import { subscriptionMachine } from './subscription.machine.ts';
import { subscriptionRefusals } from './subscription.refusals.ts';
import type { RefusalReasons } from './refusal-reasons.ts';
import { TransitionPlans } from './transition-plan.ts';
import type { DomainEvent } from '../domain/events/index.ts';
import type { EntityView, Facts, MachineEvent } from './types.ts';

export const MACHINES = {
  subscription: subscriptionMachine,
  node: nodeMachine,
  credential: credentialMachine,
  application: applicationMachine,
  association: associationMachine,
  pseudonym: pseudonymMachine,
} as const satisfies Record<EntityKind, AnyStateMachine>;

/**
 * Per kind, what each guard asks and what it found when it refused: a rule's name alone does not tell a user what to
 * change (review 54; docs/service.md "A refusal names what to fix"). Guards that only choose between two transitions
 * of one event (hasLiveInstances, lastInstance, lastAssociation) never refuse alone, so they have none.
 */
export const REFUSAL_REASONS: Readonly<Record<EntityKind, RefusalReasons>> = {
  subscription: subscriptionRefusals as RefusalReasons,
  node: nodeRefusals as RefusalReasons,
  credential: credentialRefusals as RefusalReasons,
  application: applicationRefusals as RefusalReasons,
  association: associationRefusals as RefusalReasons,
  pseudonym: pseudonymRefusals as RefusalReasons,
};

// The machines share one event type; a common snapshot type keeps the callers free of per-kind generics.
export type EntitySnapshot = MachineSnapshot<any, MachineEvent, any, any, any, any, any, any>;

const INITIAL = new Map<EntityKind, EntitySnapshot>();

/**
 * The snapshot before any event. Snapshots are immutable and each machine takes its entity's id from the
 * creating event, so one initial snapshot per kind serves every entity (replay creates hundreds of thousands).
 */
export const initialSnapshot = (kind: EntityKind, _id?: string): EntitySnapshot => {
  let snapshot = INITIAL.get(kind);
  if (snapshot === undefined) {
    snapshot = initialTransition(MACHINES[kind] as AnyStateMachine, { id: '' })[0] as EntitySnapshot;
    INITIAL.set(kind, snapshot);
  }
  return snapshot;
};

export const stateOf = (snapshot: EntitySnapshot): string => String(snapshot.value);

/**
 * The event a machine consumes, always built in one shape. `{ ...event, at, facts }` copies events of two dozen
 * shapes through one site: V8 then clones each by the slow path and every guard reads objects of many shapes,
 * which cost replay twice the transition itself (issue 15, item 4).
 */
export const machineEvent = (event: DomainEvent, at: number, facts: Facts, trusted?: true): MachineEvent =>
  ({ type: event.type, data: event.data, at, facts, trusted }) as MachineEvent;

export const viewOf = (snapshot: EntitySnapshot): EntityView => ({
  state: stateOf(snapshot),
  context: snapshot.context as Record<string, unknown>,
});

type Scope = Parameters<AnyStateMachine['transition']>[2];
const SCOPES = new Map<EntityKind, Scope>();

/**
 * XState's `transition(logic, snapshot, event)` builds a fresh inert actor scope on every call, which costs
 * more than the transition itself. Our machines spawn nothing, schedule nothing and run no actions besides
 * `assign` (resolved inside the transition), so one inert scope per machine, captured from a real `transition`
 * call, serves every call; actions are collected nowhere because there are none to run.
 */
const scopeOf = (kind: EntityKind): Scope => {
  let scope = SCOPES.get(kind);
  if (scope === undefined) {
    const machine = MACHINES[kind] as AnyStateMachine;
    const spy = Object.create(machine) as AnyStateMachine;
    spy.transition = (snapshot, event, actorScope) => {
      scope = actorScope;
      return machine.transition(snapshot, event, actorScope);
    };
    transition(spy, initialSnapshot(kind), { type: 'xstate.init.scope' } as never);
    if (scope === undefined) throw new Error(`could not capture the transition scope of ${kind}`);
    (scope as { actionExecutor: unknown }).actionExecutor = () => {};
    SCOPES.set(kind, scope);
  }
  return scope;
};

const PLANS = new Map<EntityKind, TransitionPlans>();

/** Each machine's transition plans (machines/transition-plan.ts), built on first use. */
const plansOf = (kind: EntityKind): TransitionPlans => {
  let plans = PLANS.get(kind);
  if (plans === undefined) {
    plans = new TransitionPlans(MACHINES[kind] as AnyStateMachine, scopeOf(kind));
    PLANS.set(kind, plans);
  }
  return plans;
};

/** Event types the current state has a transition for, whatever their guards say. */
const allowedEvents = (snapshot: EntitySnapshot): string[] =>
  snapshot.status !== 'active' ? [] : [...new Set(getNextTransitions(snapshot).map((t) => t.eventType))].sort();

export type Verdict =
  | { readonly ok: true; readonly snapshot: EntitySnapshot }
  | {
      readonly ok: false;
      readonly state: string;
      readonly allowed: readonly string[];
      readonly rule?: string;
      /** What the rule asks and what it found, where its name alone does not say (refusal-reasons.ts). */
      readonly because?: string;
    };

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
 * The event as a refusal's words read it: a fact in state `absent` is an entity never recorded, as an undefined fact
 * is. A replay reads a fact whose creating event was refused as its initial snapshot, the partitioned replay as
 * nothing; the words must not differ between them (the verdicts are compared whole), nor name the empty context's
 * instants. Only on a refusal: decisions read the facts as they are.
 */
const factsAsRecorded = (event: MachineEvent): MachineEvent => {
  const facts = event.facts as Readonly<Record<string, EntityView | undefined>>;
  if (!Object.values(facts).some((view) => view?.state === 'absent')) return event;
  const recorded = Object.fromEntries(Object.entries(facts).map(([name, view]) => [name, view?.state === 'absent' ? undefined : view]));
  return { ...event, facts: recorded } as MachineEvent;
};

/**
 * The single place that decides whether an event is legal for an entity: the machine's transitions and guards
 * selected by XState, its assigns run, no actors, no timers (machines/transition-plan.ts: XState's `transition`
 * structure reused per state and transition). Used alike by the command pipeline (candidate events) and by
 * replay (stored events).
 */
export const evaluate = (kind: EntityKind, snapshot: EntitySnapshot, event: MachineEvent): Verdict => {
  if (snapshot.status === 'active') {
    const next = plansOf(kind).step(snapshot, event);
    if (next !== undefined) return { ok: true, snapshot: next as EntitySnapshot };
  }
  const allowed = allowedEvents(snapshot);
  const rule = allowed.includes(event.type) ? refusingRule(kind, snapshot, event) : undefined;
  const reason = rule !== undefined ? REFUSAL_REASONS[kind][rule] : undefined;
  const because = reason?.({ context: snapshot.context, event: factsAsRecorded(event) });
  return { ok: false, state: stateOf(snapshot), allowed, ...(rule !== undefined ? { rule } : {}), ...(because !== undefined ? { because } : {}) };
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
    ...(verdict.because !== undefined ? { because: verdict.because } : {}),
  });
};
