/**
 * Integrator lifecycle streams (issue 6 item 3; DESIGN "Integrators subscribe to lifecycle event streams ...,
 * resume after a disconnect without loss"): an rxjs Observable over any store behind the port (embedded SQLite or
 * EventStoreDB), catch-up then live, from the start, from now, or strictly after a position the consumer has
 * seen, filtered by entity kind, event type and stream, each event decoded (upcast, parsed by zod) on the way; one
 * that no version can read is passed over, as the projections pass over it (`onPassedOver` is told), and one a newer
 * version wrote ends the stream before it with a NewerEventError (resume after the last event once upgraded).
 *
 * Back-pressure: pull one, deliver one (see paced.ts): the next event is read from the store only after the
 * subscriber's `next` has returned and `onEvent`'s promise has settled, so a slow consumer never blocks appends
 * and holds only the store subscription's bounded buffer.
 *
 *   lifecycleEvents$(store, { from: lastPosition, kinds: ['credential'] }, { onEvent: (e) => send(e) })
 *     .subscribe({ next: (e) => (lastPosition = e.record.position), error: reconnectLater });
 */
import { defer, switchMap, type Observable } from 'rxjs';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { compileFilter, parseLifecycleFilter, type LifecycleFilterInput } from './filter.ts';
import { pacedEvents, type DeliveryOptions, type LifecycleEvent } from './paced.ts';
import { refuseResumePointNotInLog } from './resume-point.ts';

const identity = (event: LifecycleEvent): LifecycleEvent => event;

/**
 * Throws a `validation` CredenceError for a malformed filter, before anything is subscribed; a `from` position that is
 * no place in the store's log (past its head) errors the stream when subscribed, `resume_point_not_in_log`.
 */
export function lifecycleEvents$(
  store: EventStore,
  filter: LifecycleFilterInput = {},
  options: DeliveryOptions<LifecycleEvent> = {},
): Observable<LifecycleEvent> {
  if (store === null || typeof store !== 'object' || typeof store.subscribeToAll !== 'function') {
    throw new Error('store: must be an EventStore');
  }
  const parsed = parseLifecycleFilter(filter);
  const events = pacedEvents(store, compileFilter(parsed), identity, options);
  const after = parsed.from;
  // Checked on each subscription, against the head as it is then (review 206: a position past it skipped every event up
  // to it). `start` and `end` open the store's subscription at once, as before: `end` means from when subscribed.
  if (typeof after !== 'bigint') return events;
  return defer(() => refuseResumePointNotInLog(store, after)).pipe(switchMap(() => events));
}
