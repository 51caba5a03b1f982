/**
 * Persistent subscriptions to $all for integrator consumer groups: the server keeps the group's position and
 * spreads events over the group's consumers; each consumer acks what it handled. This is an EventStoreDB-only
 * addition to the store port (the embedded store has no server-side groups).
 *
 * A handler that returns acks the event; one that throws nacks it with `retry` (the server redelivers it with a
 * higher retry count) while its retry count is below `maxRetryCount`, then with `park` (the server moves it to the
 * group's parked queue for an operator to replay): `maxRetryCount` retries after the first delivery. An event that is not a Credence event is parked at once; a claim marker, and any event of
 * a stream that is no entity's (another application's in a shared cluster, review 55), is acked without reaching the
 * handler: integrators see lifecycle events only. The nack reason carries the error's name and Credence code only, never its message. A
 * dropped connection is resumed with backoff; the server redelivers whatever was in flight, so handlers must be
 * idempotent (Credence projections are).
 */
import { isCredenceError } from '../../../../domain/errors.ts';
import { isFactClaim } from '../../../../domain/fact-claims.ts';
import { parseStreamId } from '../../../../domain/streams.ts';
import { decodeStored } from '../../../../domain/stored.ts';
import type { AllFilter, RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { isTransient, type EsdbDriver, type PersistentDelivery, type WirePersistentSubscription } from './driver.ts';
import { compileFilter } from './filters.ts';
import { decode } from './codec.ts';
import type { DropNotice, ResubscribePolicy } from './event-reader.ts';

export interface PersistentSubscriptionOptions {
  /** Applied when the group is created; an existing group keeps its own settings. */
  readonly filter?: AllFilter;
  /** Where a new group starts. Default `start`. */
  readonly startFrom?: 'start' | 'end';
  /** Retries of a failed event after its first delivery, before it is parked: the handler runs at most this + 1 times. Default 5. */
  readonly maxRetryCount?: number;
  /** Events the server may have in flight to this consumer. Default 16. */
  readonly bufferSize?: number;
}

export interface DeliveryContext {
  /** How many times the server delivered this event before (0 on first delivery). */
  readonly retryCount: number;
}

export type PersistentHandler = (event: RecordedEvent, context: DeliveryContext) => Promise<void> | void;

export interface PersistentConsumer {
  /** Stops consuming; events in flight are redelivered to the group. */
  stop(): Promise<void>;
  /** Settles when the consumer stops: resolved after `stop()`, rejected on an error that retrying cannot fix. */
  readonly done: Promise<void>;
}

interface ConsumerSettings {
  readonly driver: EsdbDriver;
  readonly policy: ResubscribePolicy;
  readonly onDrop: ((notice: DropNotice) => void) | undefined;
}

export async function startPersistentConsumer(
  settings: ConsumerSettings,
  group: string,
  handler: PersistentHandler,
  options: PersistentSubscriptionOptions,
): Promise<PersistentConsumer> {
  if (typeof group !== 'string' || group.length === 0) throw new Error('group: must be a non-empty string');
  if (typeof handler !== 'function') throw new Error('handler: must be a function');
  const filter = compileFilter(options.filter, 'options.filter');
  const maxRetryCount = options.maxRetryCount ?? 5;
  const bufferSize = options.bufferSize ?? 16;
  await settings.driver.ensurePersistentGroupOnAll(group, {
    startFrom: options.startFrom ?? 'start',
    // The default (no filter) excludes system events on the server too.
    filter: filter.server,
    maxRetryCount,
  });

  let stopped = false;
  let current: WirePersistentSubscription | undefined;
  let cancelSleep: (() => void) | undefined;

  const deliver = async (delivery: PersistentDelivery): Promise<void> => {
    // Fact claims and command bindings are this store's concurrency markers, not lifecycle events
    // (domain/fact-claims.ts): acked so the group moves past them, as every other reader passes over them.
    // Another application's events (a shared cluster) are not ours to hand over, even as foreign records: their data
    // is that application's. Acked, so that the group moves past them.
    if (!filter.keep(delivery.event) || isFactClaim(delivery.event) || parseStreamId(delivery.event.streamId) === undefined) {
      return delivery.ack();
    }
    let event: RecordedEvent;
    try {
      event = decode(delivery.event);
    } catch {
      return delivery.nack('park', 'not a Credence event');
    }
    // What every other reader of the store would refuse (its data past the message limits, SER-001; a type or schema
    // this version does not know) is no lifecycle event to hand over: parked, saying why (review 115).
    const read = decodeStored(event);
    if (!read.ok) {
      return delivery.nack('park', read.newer === true ? `written by a newer version of Credence: ${read.reason}` : `not a lifecycle event this version reads: ${read.reason}`);
    }
    try {
      await handler(event, { retryCount: delivery.retryCount });
    } catch (error) {
      const reason = isCredenceError(error) ? `CredenceError ${error.code}` : error instanceof Error ? error.name : 'thrown value';
      return delivery.nack(delivery.retryCount < maxRetryCount ? 'retry' : 'park', `handler failed: ${reason}`);
    }
    return delivery.ack();
  };

  const run = async (): Promise<void> => {
    let attempt = 0;
    while (!stopped) {
      current = settings.driver.subscribePersistentOnAll(group, bufferSize);
      let reason = 'the server ended the subscription';
      try {
        for (let next = await current.next(); next.done !== true && !stopped; next = await current.next()) {
          attempt = 0;
          await deliver(next.value);
        }
      } catch (error) {
        if (stopped) break;
        if (!isTransient(error)) throw error;
        reason = (error as Error).message;
      } finally {
        await current.close().catch(() => undefined);
      }
      if (stopped) break;
      attempt += 1;
      const delayMs = Math.min(settings.policy.maxDelayMs, settings.policy.initialDelayMs * 2 ** (attempt - 1));
      settings.onDrop?.({ reason, attempt, delayMs, resumeAfter: undefined });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        cancelSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };

  const done = run();
  // `done` is for callers who want it; a rejection nobody awaits must not crash the process.
  done.catch(() => undefined);
  return {
    done,
    stop: async () => {
      stopped = true;
      cancelSleep?.();
      await current?.close().catch(() => undefined);
      await done.catch(() => undefined);
    },
  };
}
