import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getNextTransitions, transition, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { EVENT_KIND, EVENT_TYPES, type EventType } from '../domain/events/index.ts';
import { ENTITY_KINDS, type EntityKind } from '../domain/streams.ts';
import { evaluate, initialSnapshot, MACHINES, type EntitySnapshot, type Facts, type MachineEvent } from '../machines/index.ts';
import { TransitionPlans } from '../machines/transition-plan.ts';

/**
 * `evaluate` steps the lifecycle machines through transition plans (machines/transition-plan.ts): XState selects
 * the transition and runs the guards, the assigns run, and the snapshot's structure is reused per state and
 * transition. This proves it decides exactly as XState's own pure `transition` does, on random event sequences
 * (legal, illegal, guards passing and failing, trusted rebuilds), and that its snapshots are XState snapshots.
 */
const T = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const iso = (days: number) => new Date(T + days * DAY).toISOString();
const at = (days: number) => T + days * DAY;
const view = (state: string, context: Record<string, unknown> = {}) => ({ state, context });

/** Views another entity can show a guard: some satisfy the guards, some do not. */
const VIEWS = [
  undefined,
  view('active', { notBefore: at(0), notAfter: at(365) }),
  view('expired', { notBefore: at(0), notAfter: at(365) }),
  // A usable credential of node n, and node n enrolled as /n under subscription s (whose service credentials are
  // provisioned only while s serves: subscriptionServes), registered with bootstrap credential b (a bootstrap c issued
  // to it is refused, bootstrapNamedByItsNode; remote provisioning on c refused, bootstrapIsFactoryCredential; review 288).
  view('enrolled', { cseId: '/n', subscriptionId: 's', bootstrapCredentialId: 'b', notBefore: at(0), notAfter: at(100), credentialId: 'c', owner: { kind: 'node', id: 'n' }, liveAssociations: [] }),
  view('associated', { purpose: 'application', owner: { kind: 'app', id: 'Rapp' }, notBefore: at(0), notAfter: at(100) }),
  view('initialized', { predecessorId: 'c', owner: { kind: 'node', id: 'n' } }),
  view('revoked', { notBefore: at(0), notAfter: at(100) }),
  // A node's factory credential, and a node registered with it: an association on it is refused (credentialNotBootstrap).
  view('enrolled', { purpose: 'bootstrap', cseId: '/n', bootstrapCredentialId: 'c', notBefore: at(0), notAfter: at(100), credentialId: 'c', owner: { kind: 'node', id: 'n' }, liveAssociations: [] }),
  // The factory key issued again under another id: as a credential its fingerprint is the bootstrap credential's.
  view('enrolled', { purpose: 'service', fingerprint: `sha256:${'f'.repeat(64)}`, cseId: '/n', notBefore: at(0), notAfter: at(100), credentialId: 'c', owner: { kind: 'node', id: 'n' }, liveAssociations: [] }),
  // A subscription ending at day 20: a service credential or an association ending after it is refused
  // (endsWithinSubscription, review 197), which the year-long one at VIEWS[1] makes too rare to be seen.
  view('active', { notBefore: at(0), notAfter: at(20) }),
];
/**
 * What the bookkeeping of an association reads of it (review 234), drawn for that fact alone (among VIEWS they made the
 * other guards' refusals too rare): association a1 of AE Cae1 of Rapp on credential c of node n, established and ended
 * (recorded and released on it), established and live (recorded on it; its release refused), never established.
 */
const ASSOCIATION_VIEWS = [
  undefined,
  view('revoked', { associationId: 'a1', nodeId: 'n', credentialId: 'c', registree: { kind: 'ae', id: 'Cae1', appId: 'Rapp' }, establishedAt: at(5), expiresAt: at(40) }),
  view('associated', { associationId: 'a1', nodeId: 'n', credentialId: 'c', registree: { kind: 'ae', id: 'Cae1', appId: 'Rapp' }, establishedAt: at(5), expiresAt: at(40) }),
  view('revoked', { associationId: 'a1', nodeId: 'n', credentialId: 'c', registree: { kind: 'cse', id: '/n' } }),
];
const FACT_NAMES = ['subscription', 'node', 'credential', 'application', 'owner', 'bootstrap', 'predecessor', 'successor', 'currentCredential', 'currentSubscription', 'association'] as const;

const ids = fc.constantFrom('a1', 'a2');
/** Data of every event type, with the ids and instants the guards compare drawn from small pools. */
const dataOf = (type: EventType): fc.Arbitrary<Record<string, unknown>> => {
  const days = fc.constantFrom(0, 5, 20, 40, 100, 365, 400);
  switch (type) {
    case 'SubscriptionCreated': return fc.record({ subscriptionId: fc.constant('s'), subscriber: fc.constant('x'), notBefore: days.map(iso), notAfter: days.map(iso) });
    case 'SubscriptionTerminated': return fc.constant({ subscriptionId: 's', reason: 'contract ended' });
    case 'NodeRegistered': return fc.constant({ nodeId: 'n', profile: { class: 'meter', manufacturer: 'a', model: 'b', capabilities: [] } });
    case 'NodeEnrolled': return fc.record({ nodeId: fc.constant('n'), subscriptionId: fc.constantFrom('s', 't'), cseId: fc.constant('/n') });
    case 'NodeAssociated':
    case 'NodeAssociationReleased': return fc.record({ nodeId: fc.constant('n'), associationId: ids });
    case 'NodeEnrolmentExpired': return fc.record({ nodeId: fc.constant('n'), subscriptionId: fc.constantFrom('s', 't') });
    case 'NodeRevoked': return fc.constant({ nodeId: 'n', reason: 'cessationOfOperation' });
    case 'CredentialIssued':
      return fc.record({
        credentialId: fc.constant('c'), kind: fc.constant('ed25519'), publicKey: fc.constant('A'.repeat(43)), purpose: fc.constant('service'),
        owner: fc.constantFrom({ kind: 'node', id: 'n' }, { kind: 'app', id: 'Rapp' }, { kind: 'cse', id: '/n' }, { kind: 'cse', id: '/n', nodeId: 'n' }),
        // Now and then the key of the last view, a predecessor's or a factory key (keyIsNew, review 195).
        fingerprint: fc.constantFrom(`sha256:${'a'.repeat(64)}`, `sha256:${'a'.repeat(64)}`, `sha256:${'a'.repeat(64)}`, `sha256:${'f'.repeat(64)}`), notBefore: days.map(iso), notAfter: days.map(iso),
        predecessorId: fc.constantFrom(undefined, 'c0'),
      })
        // The factory key issued as a bootstrap credential, drawn with no draw of its own (the fixed seed's sequences
        // stay as they were): to node n, registered with b, it is refused (bootstrapNamedByItsNode, review 288).
        .map(({ predecessorId, ...rest }) => ({ ...rest, ...(rest.fingerprint === `sha256:${'f'.repeat(64)}` ? { purpose: 'bootstrap' } : {}), ...(predecessorId === undefined ? {} : { predecessorId }) }));
    case 'CredentialProvisioned':
      // A receipt giving CSE-ID /n and no M2M-Sub-ID: its owner node holding /n under no subscription takes it, any other
      // refuses it (receiptServiceParametersCurrent, review 346). No draw of its own.
      return fc.constantFrom(
        { credentialId: 'c', method: 'pre-provisioning', receipt: { version: 2, serviceParameters: { cseId: '/n' } } },
        { credentialId: 'c', method: 'remote-provisioning', bootstrapCredentialId: 'b', receipt: { version: 2, serviceParameters: { cseId: '/n' } } },
      );
    case 'CredentialAssociated':
    case 'CredentialAssociationReleased': return fc.record({ credentialId: fc.constant('c'), associationId: ids });
    case 'CredentialRotationStarted': return fc.record({ credentialId: fc.constant('c'), successorId: fc.constant('c2'), overlapEndsAt: days.map(iso) });
    case 'CredentialRotationAbandoned': return fc.constant({ credentialId: 'c', successorId: 'c2' });
    // Superseded too: during a rotation only while the node holds the successor (handedOver, HLR-212, review 31).
    case 'CredentialRevoked': return fc.record({ credentialId: fc.constant('c'), reason: fc.constantFrom('keyCompromise', 'superseded') });
    case 'ApplicationRegistered': return fc.constant({ appId: 'Rapp', name: 'billing', provider: 'acme' });
    case 'ApplicationEnrolled':
      return fc.record({ appId: fc.constant('Rapp'), credentialId: fc.constantFrom('c', 'c2'), replaces: fc.constantFrom(undefined, undefined, 'c', 'c2') })
        .map(({ replaces, ...rest }) => (replaces === undefined ? rest : { ...rest, replaces }));
    case 'ApplicationInstanceAssociated': return fc.record({ appId: fc.constant('Rapp'), aeId: fc.constantFrom('Cae1', 'Cae2'), associationId: ids });
    case 'ApplicationInstanceReleased': return fc.record({ appId: fc.constant('Rapp'), associationId: ids });
    case 'ApplicationEnrolmentEnded': return fc.constant({ appId: 'Rapp', credentialId: 'c', reason: 'keyCompromise' });
    case 'AssociationConfigured':
      return fc.record({
        associationId: fc.constant('a'), nodeId: fc.constant('n'), credentialId: fc.constant('c'),
        registree: fc.constantFrom({ kind: 'cse', id: '/n' }, { kind: 'ae', id: 'Cae1', appId: 'Rapp' }),
        // Now and then the Registree /n itself as its Registrar (registrarIsNotRegistree, review 165).
        registrarCseId: fc.constantFrom('/in', '/in', '/in', '/n'),
      });
    case 'AssociationEstablished': return fc.record({ associationId: fc.constant('a'), expiresAt: days.map(iso) });
    // affiliationChanged too: a CSE Registree's only once its node left the CSE-ID (registreeMovedAway, RS-01, review 31).
    case 'AssociationRevoked': return fc.record({ associationId: fc.constant('a'), reason: fc.constantFrom('keyCompromise', 'affiliationChanged') });
    case 'PseudonymRotated': return fc.record({ pseudonym: fc.constant(`p-${'a'.repeat(26)}`), nodeId: fc.constant('n'), epoch: fc.constantFrom(1, 2), trigger: fc.constant('interval') });
    case 'PseudonymResolved': return fc.constant({ pseudonym: `p-${'a'.repeat(26)}`, reason: 'incident 7' });
    default: {
      // The remaining types carry their entity id and a reason at most.
      const idField = { subscription: 'subscriptionId', node: 'nodeId', credential: 'credentialId', application: 'appId', association: 'associationId', pseudonym: 'pseudonym' }[EVENT_KIND[type]];
      return fc.constant({ [idField]: 'x', reason: 'keyCompromise' });
    }
  }
};

const independentFacts: fc.Arbitrary<Facts> = fc
  .tuple(
    fc.record(
      Object.fromEntries(FACT_NAMES.map((name) => [name, fc.constantFrom(...(name === 'association' ? ASSOCIATION_VIEWS : VIEWS))])) as Record<(typeof FACT_NAMES)[number], fc.Arbitrary<Facts[keyof Facts]>>,
    ),
    // Now and then another credential on the key (keyNeverCertified, SER-010): named at all, it refuses the issue, so
    // only now and then, or no issue would be taken.
    fc.constantFrom(false, false, false, true),
    fc.constantFrom(...VIEWS),
  )
  .map(([facts, held, holder]) => (held ? { ...facts, keyHolder: holder } : facts));
/**
 * A world in which node n is served (enrolled as /n under an active subscription, its App-ID enrolled, its own usable
 * credential): an association's configuration and establishment pass all of their cross-entity guards in it. Drawn
 * with one fact changed to any view, it takes the association to its deep states and makes each of its guards refuse
 * alone (its establishment rechecks the configuration's rules: seven guards, which independent facts all pass too
 * rarely for the last one to be seen refusing).
 */
const SERVED: Facts = { subscription: VIEWS[1], node: VIEWS[3], credential: VIEWS[3], application: VIEWS[3], owner: VIEWS[3] };
/** What the changed fact may become: any view, or node n re-enrolled as another CSE (a Registree /n is no longer its CSE, RS-01). */
const CHANGED = [...VIEWS, view('enrolled', { cseId: '/n-renumbered', subscriptionId: 's', liveAssociations: [] })];
const servedFacts: fc.Arbitrary<Facts> = fc
  .record({ name: fc.constantFrom(...FACT_NAMES), view: fc.constantFrom(...CHANGED) })
  .map(({ name, view }) => ({ ...SERVED, [name]: view }));
/**
 * The served world on a usable credential of App-ID Rapp of purpose service: an AE's association on it is refused
 * (appCredentialIsEnrolled, review 249), which a changed fact drawn among all the others reaches too rarely.
 */
const onAppServiceCredential: Facts = {
  ...SERVED,
  credential: view('enrolled', { purpose: 'service', owner: { kind: 'app', id: 'Rapp' }, notBefore: at(0), notAfter: at(100), credentialId: 'c', liveAssociations: [] }),
};
/**
 * The served world on node n's credential c while its rotation's overlap runs to day 7: an association established
 * to expire after that is refused (endsWithinOverlap, review 345), which no other view shows (none is rotating).
 */
const onRotatingCredential: Facts = {
  ...SERVED,
  credential: view('enrolled', { cseId: '/n', subscriptionId: 's', bootstrapCredentialId: 'b', notBefore: at(0), notAfter: at(100), successorId: 'c2', overlapEndsAt: at(7), credentialId: 'c', owner: { kind: 'node', id: 'n' }, liveAssociations: [] }),
};
/**
 * App-ID Rapp's credential c past the end of its rotation's overlap (day 5), before the scheduler's tick: an enrolment
 * with it, or a move onto it, from day 5 is refused (credentialBeforeOverlapEnds, review 343), which independent facts
 * never show (no view of theirs is rotating). The credential moved off stands.
 */
const onOverlappedAppCredential: Facts = {
  credential: view('enrolled', { purpose: 'application', owner: { kind: 'app', id: 'Rapp' }, notBefore: at(0), notAfter: at(100), successorId: 'c2', overlapEndsAt: at(5), credentialId: 'c', liveAssociations: [] }),
  currentCredential: VIEWS[3],
};
/**
 * The facts of a step: the association's also from the served world (now and then on a rotating credential), the
 * application's now and then on a credential past its overlap; every other machine's drawn independently.
 */
const factsArb = (kind: EntityKind): fc.Arbitrary<Facts> =>
  kind === 'association'
    ? fc.oneof({ arbitrary: independentFacts, weight: 5 }, { arbitrary: servedFacts, weight: 5 }, { arbitrary: fc.constant(onAppServiceCredential), weight: 1 }, { arbitrary: fc.constant(onRotatingCredential), weight: 1 })
    : kind === 'application'
      ? fc.oneof({ arbitrary: independentFacts, weight: 9 }, { arbitrary: fc.constant(onOverlappedAppCredential), weight: 1 })
      : independentFacts;

const typesOf = (kind: EntityKind): EventType[] => EVENT_TYPES.filter((t) => EVENT_KIND[t] === kind);

/**
 * One step of a random sequence: data for every event type of the kind, and which type to send. Most steps send a
 * type the entity's current state has a transition for, and few of those end the entity, so that sequences reach
 * the deep states (a node with two live associations, a rotating credential) and take every transition; the
 * others send any type of the kind, so that events the state has no transition for are refused too.
 */
interface Step {
  readonly pick: number;
  readonly anyType: boolean;
  readonly mayEnd: boolean;
  readonly data: Readonly<Record<string, Record<string, unknown>>>;
  readonly days: number;
  readonly facts: Facts;
  readonly trusted: boolean;
}
const stepArb = (kind: EntityKind): fc.Arbitrary<Step> =>
  fc.record({
    pick: fc.nat(),
    anyType: fc.nat({ max: 4 }).map((n) => n === 0),
    mayEnd: fc.nat({ max: 3 }).map((n) => n === 0),
    data: fc.record(Object.fromEntries(typesOf(kind).map((t) => [t, dataOf(t)]))),
    days: fc.constantFrom(0, 5, 10, 40, 100, 365, 400),
    facts: factsArb(kind),
    trusted: fc.boolean(),
  });

/** Event types the state has a transition for, whatever their guards say. */
const enabledTypes = (snapshot: EntitySnapshot): string[] =>
  snapshot.status !== 'active' ? [] : [...new Set(getNextTransitions(snapshot).map((t) => t.eventType))];

/**
 * Whether every transition the state has for the event type goes to a final state, or to a credential's `revoked`,
 * which takes nothing but its reason's raise to keyCompromise: an end all the same for the sequences' lengths.
 */
const ends = (snapshot: EntitySnapshot, type: string): boolean =>
  getNextTransitions(snapshot).every((t) => t.eventType !== type || (t.target ?? []).some((n) => n.type === 'final' || n.key === 'revoked'));

const eventOf = (kind: EntityKind, snapshot: EntitySnapshot, step: Step): MachineEvent => {
  const enabled = enabledTypes(snapshot);
  const lasting = step.mayEnd ? enabled : enabled.filter((type) => !ends(snapshot, type));
  const pool = step.anyType || lasting.length === 0 ? typesOf(kind) : lasting;
  const type = pool[step.pick % pool.length]!;
  return { type, data: step.data[type], at: at(step.days), facts: step.facts, ...(step.trusted ? { trusted: true } : {}) } as unknown as MachineEvent;
};

type GuardRef = string | { readonly type?: string; readonly guards?: readonly GuardRef[] } | undefined;
const guardNames = (guard: GuardRef): string[] =>
  guard === undefined ? [] : typeof guard === 'string' ? [guard] : guard.guards !== undefined ? guard.guards.flatMap(guardNames) : guard.type !== undefined ? [guard.type] : [];

/**
 * The named guards that can refuse an event: those of the last candidate of an event in a state. A guard only in an
 * earlier candidate (`lastAssociation`) hands the event to the next candidate when it fails, never refuses it.
 */
const refusingGuardsOf = (kind: EntityKind): Set<string> => {
  const names = new Set<string>();
  for (const node of Object.values((MACHINES[kind] as AnyStateMachine).root.states)) {
    for (const candidates of (node as AnyStateNode).transitions.values()) guardNames(candidates.at(-1)?.guard as GuardRef).forEach((n) => names.add(n));
  }
  return names;
};

/** Guards whose refusal a test of its own shows (below), which random sequences reach too rarely. */
const REFUSING_SEEN_APART = new Set(['overlapEndsAfterNotBefore']);

/** Every transition of the machine, named `state --Event[candidate]--> target`. */
const transitionsOf = (kind: EntityKind): Map<unknown, string> => {
  const all = new Map<unknown, string>();
  for (const [name, node] of Object.entries((MACHINES[kind] as AnyStateMachine).root.states)) {
    for (const [type, candidates] of (node as AnyStateNode).transitions) {
      candidates.forEach((t, i) => all.set(t, `${name} --${type}[${i}]--> ${t.target?.map((n) => n.key).join(',') ?? '(itself)'}`));
    }
  }
  return all;
};

/** What `evaluate` judged before transition plans: XState's `transition`, taken when it changed something or `can` says so. */
const reference = (kind: EntityKind, snapshot: EntitySnapshot, event: MachineEvent): EntitySnapshot | undefined => {
  if (snapshot.status !== 'active') return undefined;
  const [next] = transition(MACHINES[kind] as AnyStateMachine, snapshot, event as never);
  return next !== snapshot || snapshot.can(event) ? (next as EntitySnapshot) : undefined;
};

const persisted = (kind: EntityKind, snapshot: EntitySnapshot) => (MACHINES[kind] as AnyStateMachine).getPersistedSnapshot(snapshot);

describe('transition plans decide exactly as XState transition', () => {
  it.each(ENTITY_KINDS)('every %s machine is stepped by plans (flat: atomic and final states, assigns only)', (kind) => {
    expect(new TransitionPlans(MACHINES[kind] as AnyStateMachine, undefined as never).flat).toBe(true);
  });

  it.each(ENTITY_KINDS)('%s: same verdicts, states, contexts and status on random event sequences, every transition taken and every guard refusing', (kind) => {
    const machine = MACHINES[kind] as AnyStateMachine;
    const taken = new Set<unknown>();
    const refusingRules = new Set<string>();
    let refusedByState = 0;
    fc.assert(
      fc.property(fc.array(stepArb(kind), { minLength: 1, maxLength: 60 }), (steps) => {
        let expected = initialSnapshot(kind);
        let actual = initialSnapshot(kind);
        for (const step of steps) {
          const event = eventOf(kind, expected, step);
          const want = reference(kind, expected, event);
          const verdict = evaluate(kind, actual, event);
          expect(verdict.ok).toBe(want !== undefined);
          if (want === undefined || !verdict.ok) {
            if (!verdict.ok && verdict.rule !== undefined) refusingRules.add(verdict.rule);
            if (!enabledTypes(expected).includes(event.type)) refusedByState += 1;
            continue;
          }
          taken.add(machine.getTransitionData(expected, event)[0]);
          expect(persisted(kind, verdict.snapshot)).toEqual(persisted(kind, want));
          expect(verdict.snapshot.status).toBe(want.status);
          expect(verdict.snapshot.value).toBe(want.value);
          // A planned snapshot is an XState snapshot: XState steps on from it as from its own.
          const fromPlanned = reference(kind, verdict.snapshot, event);
          const fromXState = reference(kind, want, event);
          expect(fromPlanned === undefined ? undefined : persisted(kind, fromPlanned)).toEqual(fromXState === undefined ? undefined : persisted(kind, fromXState));
          expected = want;
          actual = verdict.snapshot;
        }
      }),
      // A fixed seed: the same 600 sequences on every run, so that the coverage asserted below cannot flake (random
      // seeds missed a rare guard refusal about once in 60 runs). A failure is still shrunk to its smallest sequence.
      // The association's configuration passes six guards and its establishment seven, each over a fact drawn on its
      // own, and a credential's supersession is judged (handedOver) only once a rotation was started: it takes more
      // sequences to reach their last guard refusing.
      { numRuns: kind === 'association' || kind === 'credential' ? 1200 : 600, seed: 1 },
    );
    // Every transition of the machine (each candidate of each event in each state) was taken and compared, every
    // guard that can refuse an event refused one, and events a state has no transition for were refused.
    const all = transitionsOf(kind);
    expect([...all].filter(([t]) => !taken.has(t)).map(([, name]) => name)).toEqual([]);
    expect([...refusingGuardsOf(kind)].filter((name) => !refusingRules.has(name) && !REFUSING_SEEN_APART.has(name))).toEqual([]);
    expect(refusedByState).toBeGreaterThan(0);
  });

  it('a rotation whose overlap ends by its credential\'s notBefore is refused by overlapEndsAfterNotBefore, as XState refuses it', () => {
    // Reached by random sequences too rarely once a fact guard (review 356): it refuses only an event not trusted, on
    // a credential provisioned and rotated before its notBefore, onto a successor successorLinked takes.
    const issued = evaluate('credential', initialSnapshot('credential'), {
      type: 'CredentialIssued',
      data: { credentialId: 'c', kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: { kind: 'node', id: 'n' }, fingerprint: `sha256:${'a'.repeat(64)}`, notBefore: iso(20), notAfter: iso(100) },
      at: at(1),
      facts: { owner: VIEWS[3] },
    } as unknown as MachineEvent);
    if (!issued.ok) throw new Error('issued refused');
    const provisioned = evaluate('credential', issued.snapshot, { type: 'CredentialProvisioned', data: { credentialId: 'c', method: 'pre-provisioning' }, at: at(20), facts: { owner: VIEWS[3], subscription: VIEWS[1] } } as unknown as MachineEvent);
    if (!provisioned.ok) throw new Error(`provisioned refused by ${provisioned.rule}`);
    for (const trusted of [false, true]) {
      const rotation = { type: 'CredentialRotationStarted', data: { credentialId: 'c', successorId: 'c2', overlapEndsAt: iso(5) }, at: at(0), facts: { successor: view('initialized', { predecessorId: 'c', owner: { kind: 'node', id: 'n' }, notBefore: at(0), notAfter: at(100) }), owner: VIEWS[3] }, ...(trusted ? { trusted } : {}) } as unknown as MachineEvent;
      const verdict = evaluate('credential', provisioned.snapshot, rotation);
      const want = reference('credential', provisioned.snapshot, rotation);
      expect(verdict.ok).toBe(want !== undefined);
      expect(verdict, JSON.stringify(verdict.ok ? {} : { rule: verdict.rule })).toMatchObject(trusted ? { ok: true } : { ok: false, rule: 'overlapEndsAfterNotBefore' });
    }
  });

  it('a taken transition with guards passing changes the entity; the same event refused by a guard leaves it as it was', () => {
    const issued = evaluate('credential', initialSnapshot('credential'), {
      type: 'CredentialIssued',
      data: { credentialId: 'c', kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: { kind: 'node', id: 'n' }, fingerprint: `sha256:${'a'.repeat(64)}`, notBefore: iso(0), notAfter: iso(100) },
      at: at(1),
      facts: { owner: VIEWS[3] },
    } as unknown as MachineEvent);
    expect(issued.ok).toBe(true);
    if (!issued.ok) return;
    expect(issued.snapshot.value).toBe('initialized');
    expect(issued.snapshot.context).toMatchObject({ credentialId: 'c', notAfter: at(100) });
    const late = evaluate('credential', issued.snapshot, { type: 'CredentialProvisioned', data: { credentialId: 'c', method: 'pre-provisioning' }, at: at(200), facts: {} } as unknown as MachineEvent);
    expect(late).toMatchObject({ ok: false, state: 'initialized', rule: 'notExpiredYet' });
  });
});
