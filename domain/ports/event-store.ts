/**
 * The event store port. Shaped after EventStoreDB's client so that the embedded SQLite store and the
 * EventStoreDB adapter are interchangeable behind it: streams with revisions (0-based, bigint), one
 * global order with positions (bigint, strictly increasing, never reused), append with an expected
 * revision, read one stream, read everything from a position with server-side filters, and a
 * catch-up-then-live subscription.
 *
 * Positions and revisions are bigint everywhere: EventStoreDB's commit positions exceed 2^53.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What the writer expects the stream to look like before its append (EventStoreDB's `expectedRevision`). */
export type ExpectedRevision =
  | { kind: 'no_stream' }
  | { kind: 'any' }
  | { kind: 'exact'; revision: bigint };

export const ExpectedRevision = {
  noStream: { kind: 'no_stream' } as ExpectedRevision,
  any: { kind: 'any' } as ExpectedRevision,
  exact: (revision: bigint): ExpectedRevision => ({ kind: 'exact', revision }),
  /** The expectation that matches a stream read up to `lastRevision` (undefined when the stream was empty). */
  after: (lastRevision: bigint | undefined): ExpectedRevision =>
    lastRevision === undefined ? { kind: 'no_stream' } : { kind: 'exact', revision: lastRevision },
} as const;

/**
 * Most distinct streams one `readStreams` call may ask for. It bounds how many streams one read holds in memory, not
 * their length: each stream is read whole, as `readStream` reads it.
 */
export const MAX_STREAMS_PER_READ = 4096;

export interface EventToAppend {
  /** UUID. Deterministic ids (derived from the command id) make a retried append idempotent on EventStoreDB too. */
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

export interface RecordedEvent {
  readonly id: string;
  readonly streamId: string;
  /** 0-based position inside its stream. */
  readonly revision: bigint;
  /** Position in the global order ($all). Strictly increasing; gaps are allowed (EventStoreDB has them). */
  readonly position: bigint;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** Another stream a decision read (a guard's fact) and the revision it read (undefined: the stream did not exist). */
export interface FactRead {
  readonly streamId: string;
  readonly revision: bigint | undefined;
}

export interface AppendOptions {
  readonly expectedRevision: ExpectedRevision;
  /**
   * Idempotency key (the command id). A second append with a key the store has already seen appends nothing
   * and returns the first append's result with `deduplicated: true`.
   */
  readonly commandId?: string;
  /**
   * The facts the decision read. The append commits only if every one of these streams is still at the revision
   * read, else it throws a concurrency conflict like a failed expectedRevision: a decision must be valid against
   * every fact it read at the moment it commits (a credential revoked while an association on it was being decided
   * must not let the association be stored). The idempotency check comes first, as for expectedRevision.
   * A store without conditions across streams may hold this by first appending a fact claim to each fact stream
   * (domain/fact-claims.ts), which moves that stream's revision; readers pass over claims.
   */
  readonly facts?: readonly FactRead[];
  /**
   * The public key (its SubjectPublicKeyInfo fingerprint, `sha256:<64 hex>`) the appended CredentialIssued certifies
   * (SER-010): the append commits only if no other stream's append certified that key, ever, else it throws a
   * concurrency conflict like a failed expectedRevision, after which the decision is read again and refused by the
   * rule (machines: keyNeverCertified). Held at the commit as a fact is: two concurrent issues of one key to two
   * credentials cannot both commit. The embedded store checks its events inside the append's transaction; a store
   * without conditions across streams claims the key on a stream of its own before the events (EventStoreDB).
   */
  readonly certifiesKey?: string;
}

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last appended event. */
  readonly position: bigint;
  readonly deduplicated: boolean;
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Default 0. */
  readonly fromRevision?: bigint;
  readonly maxCount?: number;
}

/** Server-side filter on the global log. Both parts are optional; given together, an event must match both. */
export interface AllFilter {
  /** Matches a stream whose id starts with any of these prefixes. */
  readonly streamPrefixes?: readonly string[];
  /** Matches an event whose type is one of these. */
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Return events strictly after this position. Omitted: from the very start. */
  readonly afterPosition?: bigint;
  readonly filter?: AllFilter;
  readonly maxCount?: number;
}

/** Where a subscription starts. `afterPosition` is exclusive, on purpose: a resume never redelivers. */
export type SubscriptionStart = { kind: 'start' } | { kind: 'end' } | { kind: 'after'; position: bigint };

export interface SubscribeOptions {
  readonly from: SubscriptionStart;
  readonly filter?: AllFilter;
  /**
   * Optional: most characters of stored payload (data and metadata text) one page of the subscription holds, at least
   * one record a page. A reader that may stall while it holds a page (an event stream's client that stops reading)
   * asks for a small one; omitted, pages are bounded by the store's page size alone. On EventStoreDB, which does not
   * read in pages, it bounds the adapter's queue of received events (at least one event), which pauses the gRPC call
   * there; what the gRPC client holds in flight comes on top (ordered-pump.ts, docs/service.md).
   */
  readonly pageBytes?: number;
}

/** An async iterable of events in global order: first the stored ones (catch-up), then new ones as they are appended. */
export interface StoreSubscription extends AsyncIterable<RecordedEvent> {
  /** Ends the iteration; pending `next()` calls resolve as done. */
  unsubscribe(): Promise<void>;
}

/** How `keyCertifiedBy` may answer. */
export interface KeyLookupOptions {
  /** Never write to answer (a read command opens the store to write nothing, docs/service.md). Default false. */
  readonly readOnly?: boolean;
}

export interface EventStore {
  /** Atomic: all the events are appended or none is. Throws ConcurrencyConflict when the expectation fails. */
  appendToStream(streamId: string, events: readonly EventToAppend[], options: AppendOptions): Promise<AppendResult>;
  /** Events of one stream in revision order; an empty array when the stream does not exist. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;
  /**
   * The events the append with this idempotency key (`AppendOptions.commandId`) recorded on this stream, in revision
   * order; an empty array when no such append went to this stream (another stream, an append without the key, or
   * none at all). Lets the engine answer a repeated command from the command's own events instead of rebuilding its
   * whole stream (issue 15 item 5: a projection catch-up re-issues every reaction under its derived id).
   */
  readCommand(streamId: string, commandId: string): Promise<readonly RecordedEvent[]>;
  /**
   * Optional: the stream an append with this idempotency key went to, whichever it is; undefined when none did. The
   * engine asks only before it refuses a command, so that an id used before is refused as reused whatever the
   * command's target (review 78), at no cost to a command it accepts. The embedded store answers from its table of
   * command ids; EventStoreDB from the id's claim stream (eventstoredb/append.ts step 5), which binds an id once an
   * append has read its stream, so an id whose append failed after its claim is bound with no events, as its appends
   * hold it too. A store without it: a reused id is refused as reused only when the target would accept the command.
   */
  commandStream?(commandId: string): Promise<string | undefined>;
  /**
   * Optional: the stream whose append certified this key (`AppendOptions.certifiesKey`, SER-010), the first one when a
   * history written before the rule holds several; undefined when none did. One indexed read. A store without it
   * cannot tell the engine of a key certified elsewhere: the rule holds only on stores that have it (both shipped do).
   * `readOnly` (a read path: replay, history): the same answer without writing anything, where a store would complete
   * its index first (EventStoreDB's key claims pass, eventstoredb/key-claims.ts).
   */
  keyCertifiedBy?(fingerprint: string, options?: KeyLookupOptions): Promise<string | undefined>;
  /**
   * Optional: how far work the store does once before it certifies keys is (EventStoreDB's key claims pass), as
   * components of a catch-up are said; empty when none runs.
   */
  keyClaimsFilling?(): readonly { readonly name: string; readonly position: bigint | undefined }[];
  /**
   * Optional: starts that work without waiting for it (the service's start), so that the first key-certifying decision
   * need not wait for the whole of it; a pass that fails is started again by the next writer that needs it.
   */
  prepareKeyClaims?(): void;
  /**
   * Optional: every credential stream whose CredentialIssued carries this key (`data.fingerprint`), each once, in log
   * order (a store shared with other applications counts no event of theirs that shares the name),
   * whether or not its append certified the key. Replay asks it only when `keyCertifiedBy`'s stream does not hold the
   * key at the event judged (its issue was refused, or never written), to find the issue it recorded. The embedded
   * store reads its index; EventStoreDB reads the log's CredentialIssued events (a type-filtered read of $all).
   */
  keyIssuers?(fingerprint: string): Promise<readonly string[]>;
  /**
   * Optional: every event of each of these streams, as `readStream(streamId)` returns them, in one round trip. The map
   * holds every stream asked for (an empty array when it does not exist). At most `MAX_STREAMS_PER_READ` distinct
   * streams per call. The embedded store answers with one indexed query; a caller warming its cache for a batch of
   * decisions (a rotation tick's node facts, issue 15 item 5) then pays one read instead of one per stream. A store
   * without it is read stream by stream.
   */
  readStreams?(streamIds: readonly string[]): Promise<ReadonlyMap<string, readonly RecordedEvent[]>>;
  /** Events of every stream in global order, filtered on the store's side. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * Optional: the very records `readAll` returns (same options, same boundary parse of each stored row, same errors),
   * as pages read synchronously, each bounded by the store's page size. A store that reads in-process (the embedded
   * one) offers it so that a long pass (the replay) does not pay a promise per record (issue 15 item 4); a store
   * reached over the network (EventStoreDB) leaves it out and readers use `readAll`.
   */
  readAllPagesSync?(options?: ReadAllOptions): Iterable<readonly RecordedEvent[]>;
  /** Catch-up then live. */
  subscribeToAll(options: SubscribeOptions): StoreSubscription;
  /** Global position of the last stored event; undefined when the store is empty. */
  headPosition(): Promise<bigint | undefined>;
  /**
   * Optional: the position of the newest record this application wrote (undefined when it wrote none), which stays
   * in the log: what a stream opened "from now" hands out as where it starts, for its client to resume after. A store
   * shared with other applications (EventStoreDB) offers it: its head may be another application's record, which
   * leaves the log once that stream is deleted or trimmed and scavenged. Without it, `headPosition()`: every record
   * of the embedded store is this application's, and none is removed.
   */
  ownHeadPosition?(): Promise<bigint | undefined>;
  /**
   * Optional: the record stored at exactly this position, or undefined when none is. Lets a read model check that its
   * checkpoint names an event of this log (projections/runtime/log-check.ts), and a replay its checkpoint's tip. Both
   * stores offer it: the embedded one by its rows' keys, EventStoreDB by a forward read of one event from the
   * position (an event's, as the store gave it: one inside a record is an error there).
   */
  recordAt?(position: bigint): Promise<RecordedEvent | undefined>;
  /**
   * True when every position up to the head holds a record for good (the embedded store: its rows are never removed),
   * so a position below the head with no record is another log's. EventStoreDB leaves it false: a deleted or trimmed
   * stream's records (another application's, in a shared cluster) leave `$all` when the server scavenges.
   */
  readonly gapless?: boolean;
  close(): Promise<void>;
  /**
   * True when an append checks its `facts` inside its own transaction and writes nothing to the fact streams (the
   * embedded store): a stream's revision then moves only when events are appended to it, so the engine may decide
   * on the facts it cached and leave the check to the append. Unset for a store that claims facts (EventStoreDB:
   * every claim moves the fact stream, so a cached revision would be stale after each decision that read it).
   */
  readonly factChecksWriteNothing?: boolean;
}
