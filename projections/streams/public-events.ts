/**
 * The public, pseudonymised variant of the lifecycle stream (issue 6 item 3; seed 004 trust and privacy, SER-011,
 * SER-018, SER-025): each event as `projections/pseudonyms` publishes it (no canonical identifier, no actor
 * identity, no key material), with the same start points, back-pressure and resume guarantees as
 * `lifecycleEvents$`. The filter takes kinds and types only: canonical stream ids are not public.
 *
 * Pseudonyms depend on history (which node owns an identifier, each node's epoch), so the identity events before
 * the start are folded first, and identity events are read along with the requested ones even when they are not
 * themselves requested: a resumed stream pseudonymises exactly as an unbroken one.
 */
import { Observable, switchMap } from 'rxjs';
import { EVENT_KIND, EVENT_TYPES } from '../../domain/events/index.ts';
import { ENTITY_KINDS, parseStreamId, streamPrefixOf } from '../../domain/streams.ts';
import type { AllFilter, EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import {
  IDENTITY_EVENT_TYPES,
  PUBLIC_DATA,
  identitiesUpTo,
  scopeFilter,
  toPublicEvent,
  type PseudonymDeriver,
  type PublicEvent,
  type PublicIdentities,
  type PublicScope,
} from '../pseudonyms/index.ts';
import { parsePublicFilter, type LifecycleFilterInput } from './filter.ts';
import { pacedEvents, type DeliveryOptions } from './paced.ts';
import { refuseResumePointNotInLog } from './resume-point.ts';

export type PublicFilterInput = Omit<LifecycleFilterInput, 'streams'>;

/** What the identity fold reads (identitiesUpTo folds these and no other type): a stream reads them whatever it publishes. */
const FOLDED: ReadonlySet<string> = new Set(IDENTITY_EVENT_TYPES);
const NEVER_PUBLISHED: ReadonlySet<string> = new Set(EVENT_TYPES.filter((type) => PUBLIC_DATA[type] === null));

export function publicEvents$(
  store: EventStore,
  deriver: PseudonymDeriver,
  filter: PublicFilterInput = {},
  options: DeliveryOptions<PublicEvent> & {
    /** Only these stakeholders' events (projections/pseudonyms/public-scope.ts; SER-025); omitted: the whole fleet. */
    readonly scope?: PublicScope;
  } = {},
): Observable<PublicEvent> {
  if (store === null || typeof store !== 'object' || typeof store.subscribeToAll !== 'function') {
    throw new Error('store: must be an EventStore');
  }
  if (deriver === null || typeof deriver !== 'object' || typeof deriver.identifier !== 'function') {
    throw new Error('deriver: must be a PseudonymDeriver');
  }
  // No stream ids, and no kind or type the allow-list never publishes (a stream that would stay silent forever).
  const parsed = parsePublicFilter(filter);
  const kinds = parsed.kinds === undefined ? undefined : new Set<string>(parsed.kinds);
  const types = parsed.types === undefined ? undefined : new Set<string>(parsed.types);
  const server: AllFilter =
    parsed.types !== undefined
      ? { eventTypes: [...new Set([...parsed.types, ...IDENTITY_EVENT_TYPES])] }
      : { streamPrefixes: ENTITY_KINDS.map(streamPrefixOf) };
  const scope = options.scope === undefined ? undefined : scopeFilter(options.scope);
  const wanted = (type: keyof typeof EVENT_KIND): boolean => (kinds === undefined || kinds.has(EVENT_KIND[type])) && (types === undefined || types.has(type));
  /**
   * Whether the stream needs a record, told before it is decoded: one the fold does not read and the stream would not
   * publish (another kind or type, never published, out of a scoped stream's scope) is passed over undecoded, as a
   * canonical stream passes over what its filter leaves out. Decoded, one a newer version wrote ended every
   * pseudonymised stream at its position, a scoped one at another stakeholder's event, on every reconnect until an
   * upgrade (reviews 120, 123). One the fold reads still ends it there: the pseudonyms after it would be wrong. The
   * kind is the stream's, as the canonical filter reads it: a type this version does not know has no other. The scope
   * is its rule's, told from the stream's entity and the fold as it stands (scope-rules.ts, `leavesOut`): the fold
   * changes only at the types it reads, which are always decoded.
   */
  const needs = (record: RecordedEvent, identities: PublicIdentities): boolean => {
    const ref = parseStreamId(record.streamId);
    if (ref === undefined) return false;
    if (FOLDED.has(record.type)) return true;
    if (NEVER_PUBLISHED.has(record.type) || ref.kind === 'pseudonym') return false;
    if ((kinds !== undefined && !kinds.has(ref.kind)) || (types !== undefined && !types.has(record.type))) return false;
    return scope === undefined || !scope.leavesOut(ref.kind, ref.id, record.type, identities);
  };

  return new Observable<{ after: bigint | undefined; identities: PublicIdentities }>((subscriber) => {
    let left = false;
    (async () => {
      // A position past the head is refused (review 206): the fold would stop at the head, and the events after it be
      // skipped up to that position and published with the pseudonyms of before any rotation among them (SER-011).
      if (typeof parsed.from === 'bigint') await refuseResumePointNotInLog(store, parsed.from);
      // The start as a position, so that the identities are folded exactly up to it. `end` is the newest record
      // Credence wrote, as GET /v1/events takes it: the head of a shared EventStoreDB may be another application's
      // record, and a subscription resumed after it once it was scavenged was refused for good (review 216).
      const after =
        parsed.from === 'start' ? undefined : parsed.from === 'end' ? await (store.ownHeadPosition?.() ?? store.headPosition()) : parsed.from;
      // The fold stops if the subscriber leaves during it (a client that closed its stream costs nothing more).
      const identities = await identitiesUpTo(store, after, () => left);
      if (identities === undefined) return;
      subscriber.next({ after, identities });
      subscriber.complete();
    })().catch((error: unknown) => subscriber.error(error));
    return () => {
      left = true;
    };
  }).pipe(
    switchMap(({ after, identities }) => {
      return pacedEvents<PublicEvent>(
        store,
        {
          from: after === undefined ? { kind: 'start' } : { kind: 'after', position: after },
          server,
          keep: (record) => needs(record, identities),
        },
        // Identities are learnt from every event; only a requested one is made public (its pseudonyms derived in the
        // Secure Environment): the others cost the fold alone.
        async (event) => {
          if (!wanted(event.event.type)) {
            identities.observe(event.event, event.at);
            return undefined;
          }
          return toPublicEvent(event, deriver, identities, scope);
        },
        {
          ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
          ...(options.onPassedOver === undefined ? {} : { onPassedOver: options.onPassedOver }),
        },
      );
    }),
  );
}
