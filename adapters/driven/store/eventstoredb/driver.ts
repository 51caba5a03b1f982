/**
 * What the EventStoreDB adapter needs from a gRPC client, in our own types. `client.ts` implements it over
 * `@eventstore/db-client` 6.x and is the only file that imports that package: moving to `@kurrent/kurrentdb-client`
 * means rewriting that one file against this interface.
 */
import type { JsonObject } from '../../../../domain/ports/event-store.ts';

export type WireExpected = 'any' | 'no_stream' | bigint;

export interface WireEventToAppend {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** An event as the client hands it over, before our own parsing. */
export interface WireEvent {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  /** Commit position; absent when the server is too old to return positions on stream reads (< 22.6). */
  readonly position: bigint | undefined;
  readonly type: string;
  readonly isJson: boolean;
  readonly data: unknown;
  readonly metadata: unknown;
}

/** EventStoreDB filters on one attribute: the stream name (by prefixes or a regex) or the event type (a regex). */
export type ServerFilter =
  | { readonly on: 'stream'; readonly prefixes: readonly string[] }
  | { readonly on: 'stream' | 'type'; readonly regex: string };

/** `after` is exclusive, which is what the server does with a subscription's start position. */
export type WireStart = { readonly kind: 'start' } | { readonly kind: 'after'; readonly position: bigint };

export type WireMessage =
  | { readonly kind: 'event'; readonly event: WireEvent }
  | { readonly kind: 'caughtUp' }
  | { readonly kind: 'checkpoint'; readonly position: bigint };

/** Messages in the order the server sent them; ends when the server ends the call, throws when it fails. */
export interface WireSubscription extends AsyncIterator<WireMessage> {
  close(): Promise<void>;
}

export type NackAction = 'retry' | 'park' | 'skip';

export interface PersistentDelivery {
  readonly event: WireEvent;
  readonly retryCount: number;
  ack(): Promise<void>;
  nack(action: NackAction, reason: string): Promise<void>;
}

export interface WirePersistentSubscription extends AsyncIterator<PersistentDelivery> {
  close(): Promise<void>;
}

export interface PersistentGroupSettings {
  readonly startFrom: 'start' | 'end';
  readonly filter: ServerFilter | undefined;
  readonly maxRetryCount: number;
}

export interface EsdbDriver {
  /**
   * Throws our `concurrency_conflict` CredenceError when the expectation fails. `position` is absent when the server
   * answered an idempotent repeat without one (`no_position`, older servers): the caller reads the event back.
   */
  append(
    streamId: string,
    events: readonly WireEventToAppend[],
    expected: WireExpected,
  ): Promise<{ readonly revision: bigint; readonly position: bigint | undefined }>;
  /** Empty when the stream does not exist (or was deleted). */
  readStream(
    streamId: string,
    options: { readonly from: bigint | 'start' | 'end'; readonly backwards: boolean; readonly maxCount: number },
  ): Promise<readonly WireEvent[]>;
  /** Events of $all in order from `from` (an event's position: that event first). */
  readAllForwards(options: { readonly from: bigint; readonly maxCount: number }): Promise<readonly WireEvent[]>;
  /** The newest events of $all, newest first, strictly before `before` (a position) or from the end. */
  readAllBackwards(options: { readonly before: bigint | 'end'; readonly maxCount: number }): Promise<readonly WireEvent[]>;
  /**
   * `pageBytes`: most characters of payload (data and metadata text) of the events received and not yet taken; the
   * call is paused at that (at least one event is held) as well as at 256 events.
   */
  subscribeToAll(start: WireStart, filter: ServerFilter, options?: { readonly pageBytes?: number | undefined }): WireSubscription;
  /** Creates the group unless it exists. */
  ensurePersistentGroupOnAll(group: string, settings: PersistentGroupSettings): Promise<'created' | 'existed'>;
  subscribePersistentOnAll(group: string, bufferSize: number): WirePersistentSubscription;
  close(): Promise<void>;
}

/**
 * What a transient failure was, so that an operator knows what to do: the server was not reached or the connection
 * was lost (`unreachable`), a call's own time limit ran out (`timeout`, its `defaultDeadline`), the node is a
 * follower and the cluster's leader is elsewhere (`not_leader`; the client turns to the leader for the next call), or
 * the server refused the connection string's credentials or its user's permissions (`unauthorised`: until an
 * operator mends them, review 386).
 */
export type EventStoreUnavailable =
  | { readonly reason: 'unreachable' }
  | { readonly reason: 'timeout'; readonly limitMs: number }
  | { readonly reason: 'not_leader'; readonly leader: string | undefined }
  | { readonly reason: 'unauthorised' };

/** Why the event store is unavailable for now, and whether the call it failed had written nothing (appendOutcome). */
export type EventStoreUnavailableNow = EventStoreUnavailable & { readonly nothingWritten?: true };

/**
 * What a transient failure of an append tells its caller once its first write (a claim or the append itself) has gone
 * out: whatever cut it off (its deadline, a lost connection, a cancelled call, a leader change between its steps), the
 * outcome is unknown, and this is how to settle it.
 */
export const MAY_BE_WRITTEN = '; the events may have been written: retry with the same command id';

/**
 * What it tells before any write went out (the reads that check the stream and the facts, review 316): the outcome is
 * known, and a retry is still what mends a transient failure.
 */
export const NOTHING_WRITTEN = '; nothing was written: retry with the same command id';

/**
 * Whether a transient failure of an append may have left its events written (`may_be_written`: a write of it had gone
 * out) or wrote nothing (`nothing_written`: it failed at the reads before its first write). Every decision reads this
 * field, never the words it adds to the message (MAY_BE_WRITTEN, NOTHING_WRITTEN), which a wrapped, cut or suffixed
 * message would no longer end with.
 */
export type AppendOutcome = 'may_be_written' | 'nothing_written';

/** The words an append's outcome adds to the end of its error's message, for the person who reads it. */
const OUTCOME_WORDS: Readonly<Record<AppendOutcome, string>> = { may_be_written: MAY_BE_WRITTEN, nothing_written: NOTHING_WRITTEN };

/** A failure of the server or the connection, already stripped of the client's own types. */
export class EventStoreDbError extends Error {
  /** Worth retrying: the server was unavailable, not the leader, timed out or dropped the call. */
  readonly transient: boolean;
  /** No connection to the server, or no answer in time: a CLI says so as an unreachable server (exit 3). */
  readonly unreachable: boolean;
  /** Why a transient failure happened; undefined for one a retry would not mend. */
  readonly unavailable: EventStoreUnavailable | undefined;
  /**
   * For a transient failure of an append, whether its events may have been written; undefined for any other failure
   * (a read's, a refusal's). Given, it adds its words (MAY_BE_WRITTEN, NOTHING_WRITTEN) to the end of the message.
   */
  readonly appendOutcome: AppendOutcome | undefined;
  constructor(
    message: string,
    transient: boolean,
    options?: { cause?: unknown; unreachable?: boolean; unavailable?: EventStoreUnavailable; appendOutcome?: AppendOutcome | undefined },
  ) {
    const appendOutcome = transient ? options?.appendOutcome : undefined;
    super(appendOutcome === undefined ? message : `${message}${OUTCOME_WORDS[appendOutcome]}`, options);
    this.name = 'EventStoreDbError';
    this.transient = transient;
    this.unreachable = options?.unreachable ?? false;
    // A transient failure the client did not classify (a dropped call, an unknown gRPC status) is said as before.
    this.unavailable = transient ? (options?.unavailable ?? { reason: 'unreachable' }) : undefined;
    this.appendOutcome = appendOutcome;
  }
}

export const isTransient = (error: unknown): boolean => error instanceof EventStoreDbError && error.transient;

/**
 * A transient failure met during an append, with its `appendOutcome` (whether its events may have been written) by
 * `written`: whether any write of the append had gone out. One that already has an outcome (the client's, for the
 * append call itself) is kept; any other error as it is.
 */
export const asAppendFailure = (error: unknown, written: boolean): unknown => {
  if (!(error instanceof EventStoreDbError) || !error.transient || error.appendOutcome !== undefined) return error;
  return new EventStoreDbError(error.message, true, {
    cause: error,
    unreachable: error.unreachable,
    appendOutcome: written ? 'may_be_written' : 'nothing_written',
    ...(error.unavailable !== undefined ? { unavailable: error.unavailable } : {}),
  });
};

/**
 * Why the event store is unavailable for now, for the service's `store_unavailable` reason; undefined otherwise. With
 * `nothingWritten` when the failure met an append before any of its writes went out (its decision-time reads): the
 * caller is told nothing was stored, not that it may have been (review 386).
 */
export const eventStoreUnavailableOf = (error: unknown): EventStoreUnavailableNow | undefined => {
  if (!(error instanceof EventStoreDbError) || error.unavailable === undefined) return undefined;
  return error.appendOutcome === 'nothing_written' ? { ...error.unavailable, nothingWritten: true } : error.unavailable;
};

/** The event store's server could not be reached or did not answer in time (README 'CLI exit codes': 3). */
export const isEventStoreUnreachable = (error: unknown): error is EventStoreDbError => error instanceof EventStoreDbError && error.unreachable;
