import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, MachineSnapshot } from 'xstate';

/**
 * Stepping a flat machine without paying XState's general macrostep on every event (issue 15, item 4).
 *
 * `machine.transition` computes, per event, the transition domain, the exit and entry sets, the eventless
 * transitions after the step, inspection events and two or three snapshot clones. For the lifecycle machines
 * (one level of atomic or final states, no entry/exit actions, no `always`, `after` or `invoke`, no transitions on
 * the root, only `assign` actions) all of that depends on the source state and the selected transition alone, never
 * on the context or the event. So, per (state, selected transition):
 *
 * - the machine still decides every event: XState's own `StateNode.next` selects the transition, evaluating every
 *   candidate's guards in document order with the machine's implementations (`and(...)`, named guards);
 * - every `assign` of the selected transition still runs, in order, exactly as XState's `resolveAssign` runs it
 *   (the partial update merged into a copy of the context);
 * - the structure of the resulting snapshot (state value, state nodes, status, output, tags, history, children) is
 *   the one XState's `machine.transition` produced the first time that transition was taken from that state; later
 *   steps reuse it with their own context.
 *
 * A machine or transition outside that shape (nested or parallel states, entry or exit actions, eventless or
 * delayed transitions, invoked actors, actions other than `assign`) is stepped by `machine.transition` on every
 * event, as before. `test/machines-transition-plan.test.ts` checks every machine against XState's `transition` on
 * random event sequences.
 */

type Snapshot = MachineSnapshot<any, any, any, any, any, any, any, any>;
type Scope = Parameters<AnyStateMachine['transition']>[2];
type Assignment = (args: Record<string, unknown>, params: undefined) => Record<string, unknown>;
/** `assign(...)` as XState builds it: a function object carrying its assignment. */
type AssignAction = { readonly type: 'xstate.assign'; readonly assignment: Assignment | Record<string, unknown> };
/** `StateNode.next` is internal to XState's typings: the selection step of `transition`, guards included. */
type Selecting = AnyStateNode & { next?: (snapshot: Snapshot, event: unknown) => AnyTransitionDefinition[] | undefined };

interface Plan {
  readonly assigns: readonly AssignAction[];
  /** A targetless transition without actions: XState returns the snapshot it was given and `can` is false. */
  readonly forbidden: boolean;
  /** XState's result the first time this transition was taken; its structure serves every later step. */
  template: Snapshot | undefined;
}

/** The plan of a transition that must go through `machine.transition` every time. */
const GENERAL = 'general' as const;

const isAssign = (action: unknown): action is AssignAction =>
  typeof action === 'function' && (action as { type?: unknown }).type === 'xstate.assign' && 'assignment' in action;

/** Whether the machine has the shape whose step structure depends on the source state and transition alone. */
const isFlat = (machine: AnyStateMachine): boolean => {
  const root = machine.root;
  if (root.type !== 'compound' || root.transitions.size > 0 || (root.always?.length ?? 0) > 0) return false;
  if (root.entry.length > 0 || root.exit.length > 0 || root.invoke.length > 0 || root.output !== undefined) return false;
  return Object.values(root.states).every((state) => {
    const node = state as Selecting;
    return (
      (node.type === 'atomic' || node.type === 'final') &&
      typeof node.next === 'function' &&
      node.entry.length === 0 &&
      node.exit.length === 0 &&
      node.invoke.length === 0 &&
      node.after.length === 0 &&
      (node.always?.length ?? 0) === 0
    );
  });
};

export class TransitionPlans {
  readonly #machine: AnyStateMachine;
  /** Whether the machine has the shape plans serve; otherwise every event goes through `machine.transition`. */
  readonly flat: boolean;
  readonly #plans = new Map<AnyTransitionDefinition, Plan | typeof GENERAL>();
  /** The inert actor scope `machine.transition` runs in (machines/evaluate.ts); its self and system go to assigns. */
  readonly #scope: Scope;

  constructor(machine: AnyStateMachine, scope: Scope) {
    this.#machine = machine;
    this.flat = isFlat(machine);
    this.#scope = scope;
  }

  /**
   * The next snapshot, or undefined when the machine takes no transition for the event (as `evaluate` always
   * judged it: XState returns the same snapshot and `snapshot.can(event)` is false).
   */
  step(snapshot: Snapshot, event: { readonly type: string }): Snapshot | undefined {
    if (!this.flat || typeof snapshot.value !== 'string') return this.#general(snapshot, event);
    const source = this.#machine.root.states[snapshot.value] as Selecting | undefined;
    if (source === undefined) return this.#general(snapshot, event);
    const selected = source.next!(snapshot, event);
    if (selected === undefined) return undefined;
    const transition = selected[0]!;
    const plan = this.#planOf(transition);
    if (plan === GENERAL) return this.#general(snapshot, event);
    // XState's "forbidden" transition: selected, but it changes nothing and `snapshot.can` says no.
    if (plan.forbidden) return undefined;
    if (plan.template === undefined) {
      plan.template = this.#transition(snapshot, event);
      return plan.template;
    }
    let context = snapshot.context as Record<string, unknown>;
    for (const action of plan.assigns) context = this.#assign(action, context, event);
    return { ...plan.template, context } as Snapshot;
  }

  /** Outside the flat shape: XState decides; an untaken event leaves the snapshot as it was. */
  #general(snapshot: Snapshot, event: { readonly type: string }): Snapshot | undefined {
    const next = this.#transition(snapshot, event);
    // XState hands back the same snapshot when no transition was taken; `can` settles a taken one that changed nothing.
    return next !== snapshot || snapshot.can(event as never) ? next : undefined;
  }

  #transition(snapshot: Snapshot, event: { readonly type: string }): Snapshot {
    return this.#machine.transition(snapshot, event as never, this.#scope) as Snapshot;
  }

  #planOf(transition: AnyTransitionDefinition): Plan | typeof GENERAL {
    let plan = this.#plans.get(transition);
    if (plan === undefined) {
      plan = this.#compile(transition);
      this.#plans.set(transition, plan);
    }
    return plan;
  }

  #compile(transition: AnyTransitionDefinition): Plan | typeof GENERAL {
    const targets = transition.target ?? [];
    if (targets.length > 1 || targets.some((t) => t.parent !== this.#machine.root)) return GENERAL;
    const assigns: AssignAction[] = [];
    for (const action of transition.actions) {
      // A named action resolves to the machine's implementation, as XState's getAction does.
      const resolved = typeof action === 'string' ? this.#machine.implementations.actions[action] : action;
      if (!isAssign(resolved)) return GENERAL;
      assigns.push(resolved);
    }
    return { assigns, forbidden: targets.length === 0 && assigns.length === 0, template: undefined };
  }

  /** XState's resolveAssign: the partial update (a function, or one per key) merged into a copy of the context. */
  #assign(action: AssignAction, context: Record<string, unknown>, event: unknown): Record<string, unknown> {
    const args = { context, event, spawn: refuseSpawn, self: this.#scope.self, system: this.#scope.system };
    const { assignment } = action;
    let partial: Record<string, unknown>;
    if (typeof assignment === 'function') {
      partial = assignment(args, undefined);
    } else {
      partial = {};
      for (const key of Object.keys(assignment)) {
        const value = assignment[key];
        partial[key] = typeof value === 'function' ? (value as Assignment)(args, undefined) : value;
      }
    }
    return Object.assign({}, context, partial);
  }
}

const refuseSpawn = (): never => {
  throw new Error('lifecycle machines do not spawn actors');
};

