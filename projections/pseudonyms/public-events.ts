import { concatMap, defer, dematerialize, filter, from, map, materialize, Observable, of, type ObservableNotification, type OperatorFunction } from 'rxjs';
import { EVENT_KIND, ENTITY_ID_FIELD, type EventType } from '../../domain/events/index.ts';
import type { Role } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { EntityKind } from '../../domain/streams.ts';
import type { EventStore, StoreSubscription } from '../../domain/ports/event-store.ts';
import type { IdentifierKind, PseudonymDeriver } from './derive.ts';
import { PublicIdentities } from './identities.ts';
import { identitiesUpTo } from './identity-fold.ts';
import { PUBLIC_DATA, publicDay, type PublicData, type Pseudonymise } from './public-data.ts';
import { scopeFilter, type PublicScope, type ScopeFilter } from './public-scope.ts';
import { lifecycleFact } from '../streams/lifecycle-fact.ts';

// The fold lives in identity-fold.ts; named here too, where the folder's index has always found it.
export { identitiesUpTo };

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
  identities.observe(e.event, e.at);
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
