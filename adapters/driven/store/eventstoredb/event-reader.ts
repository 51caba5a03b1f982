/**
 * Reads $all through filtered catch-up subscriptions and survives their drops. The client leaves resuming to the
 * caller; this does it: after an error or an end of the underlying subscription it waits (bounded exponential
 * backoff) and subscribes again after the position of the last event it has seen. Since a subscription's start
 * position is exclusive on the server and positions only grow, resuming from the last seen event gives neither a
 * gap nor a duplicate; events at or before that position are dropped anyway, as a guard. When that event was another
 * application's and has left $all since (its stream deleted and scavenged), the server refuses to start after it;
 * the reader then starts again after the last record Credence wrote that it saw (or the one its start point names:
 * for a start from the end, Credence's newest record then, review 216), passing over what it had seen already
 * (review 179).
 *
 * With `until`, it is a bounded read: it stops at that position, at a checkpoint past it, or when the server says
 * it has caught up (EventStoreDB 23.10+ sends that marker; the 6.x client has no filtered read of $all, so a
 * filtered read is a subscription that ends there).
 */
import type { RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { protocolError } from '../../../../domain/errors.ts';
import {
  EventStoreDbError,
  isTransient,
  type EsdbDriver,
  type WireMessage,
  type WireStart,
  type WireSubscription,
} from './driver.ts';
import type { CompiledFilter } from './filters.ts';
import { decode } from './codec.ts';
import { isOwnRecord } from './own-head.ts';

/** The server's refusal of a start position no record holds (any more): RpcExceptions.InvalidPositionException. */
const isInvalidPosition = (error: unknown): boolean => !isTransient(error) && error instanceof Error && /invalid position/i.test(error.message);

export interface ResubscribePolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive drops without an event in between before giving up. */
  readonly maxAttempts: number;
}

export interface DropNotice {
  readonly reason: string;
  readonly attempt: number;
  readonly delayMs: number;
  /** The position the next subscription starts after; undefined when it starts from the beginning. */
  readonly resumeAfter: bigint | undefined;
}

/** Where to start, and the position already seen (events at or before it are never delivered). */
export interface StartPoint {
  readonly start: WireStart;
  readonly seen: bigint | undefined;
  /**
   * Where a resume goes back to when the server refuses `seen`: after a record Credence wrote at or before it, which
   * stays in $all, or the start of $all. Omitted: `start`, a position the caller had from this store. A start
   * `from: 'end'` is after the newest record of $all, maybe another application's, gone once scavenged (review 216).
   */
  readonly resume?: WireStart;
}

export interface ReaderSettings {
  readonly driver: EsdbDriver;
  readonly filter: CompiledFilter;
  readonly policy: ResubscribePolicy;
  readonly onDrop?: ((notice: DropNotice) => void) | undefined;
  readonly until?: bigint;
  /** The subscription's `pageBytes`: what its queue of received events holds at most (driver.ts). */
  readonly pageBytes?: number | undefined;
}

const DONE: IteratorResult<RecordedEvent, undefined> = { done: true, value: undefined };

export class EventReader {
  private wire: WireSubscription | undefined;
  private seen: bigint | undefined;
  /**
   * The last record Credence wrote that this reader saw, or the one its start point names: one that stays in $all
   * (own-head.ts), where a resume goes back to when the server refuses `seen`.
   */
  private own: bigint | undefined;
  /** The current subscription started after `seen` while that was another application's record. */
  private openedAfterForeign = false;
  /** The server refused that start: the next subscription starts after `own`. */
  private backToOwn = false;
  private first: WireStart | undefined;
  private closed = false;
  private exhausted = false;
  private attempt = 0;
  private cancelSleep: (() => void) | undefined;

  constructor(
    private readonly settings: ReaderSettings,
    private readonly startPoint: Promise<StartPoint>,
  ) {}

  async next(): Promise<IteratorResult<RecordedEvent, undefined>> {
    for (;;) {
      if (this.closed) return DONE;
      if (this.exhausted) {
        await this.close();
        return DONE;
      }
      const wire = this.wire ?? (await this.open());
      if (wire === undefined) return DONE;
      let result: IteratorResult<WireMessage>;
      try {
        result = await wire.next();
      } catch (error) {
        if (this.closed) return DONE;
        await this.dropped(error);
        continue;
      }
      if (this.closed) return DONE;
      if (result.done === true) {
        await this.dropped(undefined);
        continue;
      }
      const message = result.value;
      const until = this.settings.until;
      if (message.kind !== 'event') {
        if (until !== undefined && (message.kind === 'caughtUp' || message.position >= until)) this.exhausted = true;
        continue;
      }
      const event = message.event;
      if (event.position === undefined) {
        await this.close();
        throw protocolError('subscription to $all', `event ${event.id} arrived without a position`);
      }
      if (this.seen !== undefined && event.position <= this.seen) continue;
      if (until !== undefined && event.position > until) {
        this.exhausted = true;
        continue;
      }
      this.seen = event.position;
      if (isOwnRecord(event)) this.own = event.position;
      this.attempt = 0;
      if (until !== undefined && event.position >= until) this.exhausted = true;
      if (!this.settings.filter.keep(event)) continue;
      try {
        return { done: false, value: decode(event) };
      } catch (error) {
        await this.close();
        throw error;
      }
    }
  }

  /** Ends the read; a pending `next()` resolves as done. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelSleep?.();
    const wire = this.wire;
    this.wire = undefined;
    await wire?.close().catch(() => undefined);
  }

  private async open(): Promise<WireSubscription | undefined> {
    if (this.first === undefined) {
      const point = await this.startPoint;
      this.first = point.start;
      this.seen ??= point.seen;
      const resume = point.resume ?? point.start;
      this.own ??= resume.kind === 'after' ? resume.position : undefined;
    }
    if (this.closed) return undefined;
    let start: WireStart = this.seen !== undefined ? { kind: 'after', position: this.seen } : this.first;
    // No record of Credence's before `seen`: from the start of $all, the `seen` guard passing over what was seen.
    if (this.backToOwn) start = this.own !== undefined ? { kind: 'after', position: this.own } : { kind: 'start' };
    this.openedAfterForeign = !this.backToOwn && this.seen !== undefined && this.seen !== this.own;
    this.backToOwn = false;
    const { pageBytes } = this.settings;
    this.wire = this.settings.driver.subscribeToAll(start, this.settings.filter.server, pageBytes === undefined ? undefined : { pageBytes });
    return this.wire;
  }

  private async dropped(error: unknown): Promise<void> {
    const wire = this.wire;
    this.wire = undefined;
    await wire?.close().catch(() => undefined);
    // Started after another application's record that has left $all since: again after the last of Credence's, at once.
    if (this.openedAfterForeign && isInvalidPosition(error)) {
      this.backToOwn = true;
      return;
    }
    if (error !== undefined && !isTransient(error)) {
      await this.close();
      throw error;
    }
    this.attempt += 1;
    const reason = error === undefined ? 'the server ended the subscription' : (error as Error).message;
    const { initialDelayMs, maxDelayMs, maxAttempts } = this.settings.policy;
    if (this.attempt > maxAttempts) {
      await this.close();
      // A server that stopped answering stays one (exit 3 in a CLI, its reason in a service), however often it was tried.
      const unreachable = error instanceof EventStoreDbError && error.unreachable;
      const unavailable = error instanceof EventStoreDbError ? error.unavailable : undefined;
      throw new EventStoreDbError(`subscription to $all dropped ${maxAttempts} times in a row (last: ${reason})`, true, { unreachable, unavailable });
    }
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** (this.attempt - 1));
    this.settings.onDrop?.({ reason, attempt: this.attempt, delayMs, resumeAfter: this.seen });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      this.cancelSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.cancelSleep = undefined;
  }
}
