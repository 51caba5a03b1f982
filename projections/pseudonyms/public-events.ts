import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { concatMap, defer, dematerialize, filter, from, map, materialize, Observable, of, type ObservableNotification, type OperatorFunction } from 'rxjs';
import { EVENT_KIND, ENTITY_ID_FIELD, type EventType } from '../../domain/events/index.ts';
import type { Role } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { EntityKind } from '../../domain/streams.ts';
import type { EventStore, StoreSubscription } from '../../domain/ports/event-store.ts';
import type { IdentifierKind, PseudonymDeriver } from './derive.ts';
import { PublicIdentities } from './identities.ts';
import { IDENTITY_EVENT_TYPES } from './identity-event-types.ts';
import { PUBLIC_DATA, publicDay, type PublicData, type Pseudonymise } from './public-data.ts';
import { scopeFilter, type PublicScope, type ScopeFilter } from './public-scope.ts';
import { lifecycleFact } from '../streams/lifecycle-fact.ts';

/** A lifecycle event as integrators see it: no canonical identifier, no actor identity, no key material. */
export interface PublicEvent {
  /** Global position: what a subscriber resumes after. */
  readonly position: bigint;
  readonly type: EventType;
  /**
   * The start of the UTC day it occurred on: expiries and the cascade's reactions to them occur within a tick of a
   * published deadline, and their neighbours' exact times would bracket theirs. Order is the position's.
   */
  readonly occurredAt: string;
  readonly actorRole: Role;
  /** Public form of the entity whose lifecycle the event belongs to. */
  readonly subject: string;
  readonly data: PublicData;
}

const SUBJECT_KIND: Readonly<Record<EntityKind, IdentifierKind | undefined>> = {
  node: 'node',
  credential: 'credential',
  association: 'association',
  subscription: 'subscription',
  // App-IDs are published as they are; pseudonym streams are never published.
  application: undefined,
  pseudonym: undefined,
};

/**
 * The event as integrators see it (undefined for one never published, or out of `scope`), once `identities` has
 * observed it. The scope is decided after the fold observed the event, so pseudonyms are the unscoped stream's.
 */
export const toPublicEvent = async (
  e: DecodedEvent,
  deriver: PseudonymDeriver,
  identities: PublicIdentities,
  scope?: ScopeFilter,
): Promise<PublicEvent | undefined> => {
  identities.observe(e.event);
  const mapper = PUBLIC_DATA[e.event.type] as ((d: unknown, p: Pseudonymise) => Promise<PublicData>) | null;
  if (mapper === null) return undefined;
  if (scope !== undefined && !scope.admits(e.event, identities)) return undefined;
  const p: Pseudonymise = (kind, id, under) => identities.pseudonymOf(deriver, kind, id, under);
  const kind = EVENT_KIND[e.event.type];
  const entityId = (e.event.data as Record<string, string>)[ENTITY_ID_FIELD[kind]]!;
  const subjectKind = SUBJECT_KIND[kind];
  // A credential's event about an association (CredentialAssociated, its release) names the credential under the
  // association's node, as its data does: two nodes may use one credential (review 45).
  const associationId = kind === 'credential' ? (e.event.data as Record<string, unknown>)['associationId'] : undefined;
  const under = typeof associationId === 'string' ? { associationId } : {};
  return {
    position: e.record.position,
    type: e.event.type,
    occurredAt: publicDay(e.metadata.occurredAt),
    actorRole: e.metadata.actor.role,
    subject: subjectKind === undefined ? entityId : await p(subjectKind, entityId, under),
    data: await mapper(e.event.data, p),
  };
};

/**
 * Maps stored events (in global order) to the public lifecycle stream (seed 004 trust and privacy; SER-011,
 * SER-018, SER-025): each canonical identifier is replaced by the pseudonym of the epoch its node was in at
 * that event. `identities` must have seen every identity event before the first event given here.
 */
export const publicEvents =
  (deriver: PseudonymDeriver, identities: PublicIdentities = new PublicIdentities(), scope?: ScopeFilter): OperatorFunction<DecodedEvent, PublicEvent> =>
  (source) =>
    source.pipe(
      // The source's end (an error at an event a newer version wrote, above all) waits behind the events before it:
      // concatMap alone passes an error on at once, and the events it was still making public were lost to the
      // subscriber, whose position then stood further back than it need (review 85).
      materialize(),
      concatMap((n): Observable<ObservableNotification<PublicEvent>> =>
        n.kind === 'N'
          ? from(toPublicEvent(n.value, deriver, identities, scope)).pipe(
              filter((e): e is PublicEvent => e !== undefined),
              map((value) => ({ kind: 'N', value }) as const),
            )
          : of(n),
      ),
      dematerialize(),
    );

export interface PublicLifecycleOptions {
  /** Resume strictly after this position (the last one received); omitted: from the start. */
  readonly afterPosition?: bigint;
  /** Keep following new events (default); false completes at the head of the store. */
  readonly live?: boolean;
  /** Only the events of these stakeholders (public-scope.ts); omitted: the whole fleet. */
  readonly scope?: PublicScope;
}

/** Identity events folded between two turns of the event loop: a long history never holds it (the service's other requests). */
const FOLDED_PER_TURN = 1000;

/**
 * The furthest fold made over each store, kept as it stood there: a stream resumed at or after it (`from=end`, a
 * reconnect) copies it and folds only what came since, instead of the whole history at every open.
 */
const furthestFold = new WeakMap<EventStore, { readonly position: bigint; readonly identities: PublicIdentities }>();

/**
 * Folds the identity events up to `position` so a resumed stream pseudonymises exactly as an unbroken one. Yields to
 * the event loop every FOLDED_PER_TURN events, and stops (undefined) once `cancelled` says so (the subscriber left).
 */
export const identitiesUpTo = async (
  store: EventStore,
  position: bigint | undefined,
  cancelled: () => boolean = () => false,
): Promise<PublicIdentities | undefined> => {
  if (position === undefined) return new PublicIdentities();
  // Kept for others only up to what exists now: a resume point past the head (a client's Last-Event-ID after a
  // restore) must not stand for events appended below it later, which the fold never read.
  const head = (await store.headPosition()) ?? 0n;
  const keptAt = position < head ? position : head;
  const known = furthestFold.get(store);
  const base = known !== undefined && known.position <= position ? known : undefined;
  // Each pause of a copy asks whether the subscriber left: a stream closed mid-copy stops copying at once, so opening
  // and closing streams cannot pile copies of the fleet's fold up past the cap (found in review).
  const pause = async (): Promise<void> => {
    await yieldToLoop();
    if (cancelled()) throw LEFT;
  };
  try {
    return await foldFrom(store, position, keptAt, known, base, pause, cancelled);
  } catch (error) {
    if (error === LEFT) return undefined;
    throw error;
  }
};

/** Thrown by a copy's pause once the subscriber left. */
const LEFT = Symbol('the subscriber left');

const foldFrom = async (
  store: EventStore,
  position: bigint,
  keptAt: bigint,
  known: { readonly position: bigint; readonly identities: PublicIdentities } | undefined,
  base: { readonly position: bigint; readonly identities: PublicIdentities } | undefined,
  pause: () => Promise<void>,
  cancelled: () => boolean,
): Promise<PublicIdentities | undefined> => {
  const identities = base === undefined ? new PublicIdentities() : await base.identities.copyPausing(pause);
  const furthest = known === undefined || known.position < keptAt;
  /** The fold as it stood at `keptAt`, taken before the first event past it (appended while folding) is observed. */
  let atKept: PublicIdentities | undefined;
  let folded = 0;
  for await (const record of store.readAll({
    filter: { eventTypes: IDENTITY_EVENT_TYPES },
    ...(base !== undefined ? { afterPosition: base.position } : {}),
  })) {
    if (record.position > position) break;
    if (furthest && atKept === undefined && record.position > keptAt) atKept = await identities.copyPausing(pause);
    const fact = lifecycleFact(record);
    if (fact !== undefined) identities.observe(fact.event);
    if (++folded % FOLDED_PER_TURN === 0) {
      await yieldToLoop();
      if (cancelled()) return undefined;
    }
  }
  // Kept as it stood at `keptAt` (every event up to it was stored before the fold began, so was read); the caller
  // folds on in its own copy. Not over a further fold another stream kept meanwhile.
  if (furthest && (furthestFold.get(store)?.position ?? -1n) < keptAt) {
    const kept = atKept ?? (await identities.copyPausing(pause));
    // Checked again after the copy's pauses: another stream may have kept a further fold meanwhile.
    const now = furthestFold.get(store);
    if (now === undefined || now.position < keptAt) furthestFold.set(store, { position: keptAt, identities: kept });
  }
  return identities;
};

/**
 * Stored events, decoded, as an Observable: catch-up then live, or up to the head. Undecodable ones are passed over,
 * and one a newer version wrote errors it, before it (lifecycleFact).
 */
const storedEvents = (store: EventStore, after: bigint | undefined, live: boolean): Observable<DecodedEvent> =>
  new Observable<DecodedEvent>((subscriber) => {
    let subscription: StoreSubscription | undefined;
    let closed = false;
    (async () => {
      const records = live
        ? (subscription = store.subscribeToAll({ from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after } }))
        : store.readAll(after === undefined ? {} : { afterPosition: after });
      for await (const record of records) {
        if (closed) break;
        const fact = lifecycleFact(record);
        if (fact !== undefined) subscriber.next(fact);
      }
      subscriber.complete();
    })().catch((error: unknown) => subscriber.error(error));
    return () => {
      closed = true;
      void subscription?.unsubscribe();
    };
  });

/** The integrator-facing lifecycle stream from a store: catch-up then live, resumable after any position without loss. */
export const publicLifecycle = (store: EventStore, deriver: PseudonymDeriver, options: PublicLifecycleOptions = {}): Observable<PublicEvent> => {
  // A scope that cannot be served is refused here, not as a stream that fails once subscribed.
  const scope = options.scope === undefined ? undefined : scopeFilter(options.scope);
  return defer(async () => (await identitiesUpTo(store, options.afterPosition))!).pipe(
    concatMap((identities) => storedEvents(store, options.afterPosition, options.live ?? true).pipe(publicEvents(deriver, identities, scope))),
  );
};
