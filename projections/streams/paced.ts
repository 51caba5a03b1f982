/**
 * The pull loop behind every integrator stream. Back-pressure strategy (issue 6 item 3): pull one, deliver one.
 *
 * The store subscriptions are pull-based async iterators: SQLite reads the next page only when the previous one is
 * consumed; the EventStoreDB adapter pauses the gRPC stream past a fixed number of undelivered events, and HTTP/2
 * flow control then holds the server back (a server may drop a consumer that stays behind; the adapter resumes
 * after the last delivered position). This loop asks for the next event only once the previous one is fully
 * delivered: `subscriber.next` has returned and the promise of `onEvent` (the consumer's asynchronous work) has
 * settled. Hence:
 * - at most one event is in flight here; what a slow consumer costs is the store subscription's own bounded
 *   buffer (one SQLite page, or the adapter's pump plus the gRPC window), whatever the backlog;
 * - appends never wait for a subscriber: the store does not know how far behind its readers are;
 * - catch-up and live are one iteration over the store, so the switch has no gap and no duplicate, and a resume
 *   strictly after a delivered position continues exactly there.
 * rxjs cannot see a promise inside a subscriber callback: asynchronous work done in `subscribe` without
 * `onEvent` gets no back-pressure. That is why `onEvent` exists.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Observable } from 'rxjs';
import type { DecodedEvent } from '../../domain/stored.ts';
import { isFactClaim } from '../../domain/fact-claims.ts';
import type { EventStore, RecordedEvent } from '../../domain/ports/event-store.ts';
import { lifecycleFact, type PassedOver } from './lifecycle-fact.ts';
import type { CompiledFilter } from './filter.ts';

/** A decoded lifecycle event: the stored record (with its position, to resume after), the domain event, its metadata. */
export type LifecycleEvent = DecodedEvent;

export interface DeliveryOptions<T> {
  /**
   * The consumer's asynchronous work for one event (write it to a socket, store it). The event is emitted once the
   * promise resolves, and the next event is pulled only then; a rejection errors the Observable.
   */
  readonly onEvent?: (event: T) => Promise<void> | void;
  /**
   * Told of each stored event the stream passes over because no version reads it as a fact (lifecycleFact: the
   * projections and publicLifecycle pass over the same ones); the service logs it at warn. Its position, stream and
   * reason only. One a newer version wrote is not passed over: the stream errors with a NewerEventError before it.
   */
  readonly onPassedOver?: (passed: PassedOver) => void;
  /**
   * Whether the reader may be told this stored event (the HTTP stream's caller: an event of a pseudonym's stream names
   * its node, review 223). One it may not is passed over undecoded, as the filter passes over one: ids and resume
   * points stay those of the events delivered, and a resume after one re-asks about what follows. Absent: every event.
   */
  readonly tells?: (record: RecordedEvent) => boolean | Promise<boolean>;
}

/** `step` turns a decoded event into what is emitted; undefined skips it (still pulled in order). */
export type Step<T> = (event: LifecycleEvent) => T | undefined | Promise<T | undefined>;

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => value instanceof Promise;

/**
 * Records pulled between two turns of the event loop. A page of the embedded store is read synchronously and a write
 * to a socket with room settles in a microtask, so a catch-up whose filter drops most records (or a fast reader)
 * never let anything else run: a pseudonymised stream with a narrow filter held the loop for seconds over a long log
 * (found in review), every request, heartbeat and device protocol of the service waiting.
 */
const PULLED_PER_TURN = 256;

export function pacedEvents<T>(store: EventStore, filter: CompiledFilter, step: Step<T>, options: DeliveryOptions<T> = {}): Observable<T> {
  const { onEvent, onPassedOver, tells } = options;
  if (onEvent !== undefined && typeof onEvent !== 'function') throw new Error('options.onEvent: must be a function');
  if (onPassedOver !== undefined && typeof onPassedOver !== 'function') throw new Error('options.onPassedOver: must be a function');
  return new Observable<T>((subscriber) => {
    // Opened on subscribe: `from: 'end'` means from when the consumer subscribed.
    const subscription = store.subscribeToAll({ from: filter.from, filter: filter.server });
    let active = true;
    const pump = async (): Promise<void> => {
      const iterator = subscription[Symbol.asyncIterator]();
      for (let pulled = 1; ; pulled++) {
        if (pulled % PULLED_PER_TURN === 0) {
          await yieldToLoop();
          if (!active) return;
        }
        const next = await iterator.next();
        if (!active) return;
        if (next.done === true) {
          // The store ended the subscription (it was closed): nothing more will come.
          subscriber.complete();
          return;
        }
        const record = next.value;
        // A fact claim is the store's concurrency marker, not a lifecycle event (domain/fact-claims.ts). `keep` runs before
        // the decoding: an event the stream does not need never ends it, whatever version wrote it (review 120).
        if (!filter.keep(record) || isFactClaim(record)) continue;
        if (tells !== undefined) {
          const told = tells(record);
          if (!(isPromise(told) ? await told : told)) continue;
          if (!active) return;
        }
        // One no version reads is passed over as every reader passes over it: ending the stream here ended every stream
        // at this position, on every reconnect, for good (review 79); nothing acts on it, and replay reports it. One a
        // newer version wrote throws NewerEventError: the stream ends before it, not past it (review 85).
        const decoded = lifecycleFact(record, onPassedOver);
        if (decoded === undefined) continue;
        const stepped = step(decoded);
        const value = isPromise(stepped) ? await stepped : stepped;
        if (!active) return;
        if (value === undefined) continue;
        if (onEvent !== undefined) {
          const work = onEvent(value);
          if (isPromise(work)) await work;
          if (!active) return;
        }
        subscriber.next(value);
      }
    };
    const release = (): void => void subscription.unsubscribe().catch(() => undefined);
    pump()
      .catch((error: unknown) => {
        if (active) subscriber.error(error);
      })
      .finally(release);
    return () => {
      active = false;
      release();
    };
  });
}
