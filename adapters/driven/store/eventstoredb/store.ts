/**
 * The store port over EventStoreDB / KurrentDB. Mapping:
 * - revisions are EventStoreDB stream revisions; positions are commit positions (uint64, bigint end to end);
 * - `afterPosition` is exclusive in the port. The server's subscription start is exclusive too, but it skips the
 *   first event at or after the given position, so a start position must be one the server returned (any event's
 *   `position` or `headPosition()`) and still in $all; 0n and below mean "from the start" (no event sits at 0: the
 *   log opens with an epoch record). Reads go through subscriptions, so the same rule applies to `readAll`. Another
 *   application's record leaves $all once its stream is deleted or trimmed and scavenged: what is kept or handed out
 *   to resume from later is the position of a record Credence wrote (`ownHeadPosition()`, own-head.ts);
 * - system events ($-prefixed streams, and the tombstone of a hard-deleted stream) are never returned; a $-typed event
 *   another client wrote into one of our streams is returned by every read, as `readStream` returns it (codec.ts);
 * - reads need EventStoreDB 22.6+ (positions on stream reads) and filtered/bounded `readAll` needs 23.10+ (the
 *   caught-up marker); KurrentDB 24+ has both.
 */
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventToAppend,
  KeyLookupOptions,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreSubscription,
  SubscribeOptions,
  SubscriptionStart,
} from '../../../../domain/ports/event-store.ts';
import { isTransient, type EsdbDriver, type WireEvent, type WireStart } from './driver.ts';
import { appendToStream, commandClaimStreamOf, prepareAppend, type PreparedAppend } from './append.ts';
import { checkFingerprint } from '../certified-key-argument.ts';
import { compileFilter } from './filters.ts';
import { KeyClaims, keyIssuersIn } from './key-claims.ts';
import { decode, isSystemEvent, markerOf } from './codec.ts';
import { EventReader, type DropNotice, type ResubscribePolicy, type StartPoint } from './event-reader.ts';
import { EventStoreDbSubscription } from './subscription.ts';
import { backwardPageSize, OwnHead } from './own-head.ts';
import { checkPosition } from '../positions.ts';
import { assertEntityStreamReadFrom } from '../../../../domain/ports/entity-stream-pages.ts';
import {
  startPersistentConsumer,
  type PersistentConsumer,
  type PersistentHandler,
  type PersistentSubscriptionOptions,
} from './persistent.ts';

export interface EventStoreDbStoreOptions {
  /** Backoff between resubscriptions after a drop. Defaults: 100 ms doubling up to 5 s. */
  readonly resubscribe?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** Told about every dropped subscription before it is resumed (for logs and metrics). */
  readonly onSubscriptionDropped?: (notice: DropNotice) => void;
  /** How many events of a stream's tail the command-id check reads back at most. Default 1000. */
  readonly idempotencyScanLimit?: number;
}

const ignore = (): void => undefined;

// A bounded read gives up after this many drops in a row; a subscription never does.
const READ_ATTEMPTS = 5;
const COMMAND_PAGE = 100;

export class EventStoreDbStore implements EventStore {
  private readonly subscriptions = new Set<EventStoreDbSubscription>();
  /** Per stream, the last append issued, settled either way (see appendToStream). */
  private readonly appending = new Map<string, Promise<void>>();
  private readonly consumers = new Set<PersistentConsumer>();
  private readonly policy: ResubscribePolicy;
  private readonly ownHead: OwnHead;
  private closed = false;
  /** The claims of keys certified before key claims existed, filled in once by a writer that needs them (key-claims.ts). */
  // Not a #private field: a store wrapped by Object.create (a test's watch, a decorator) reaches it through the
  // prototype chain, where a # field throws 'Receiver must be an instance'.
  private readonly keyClaims: KeyClaims;

  constructor(
    private readonly driver: EsdbDriver,
    private readonly options: EventStoreDbStoreOptions = {},
  ) {
    this.policy = {
      initialDelayMs: options.resubscribe?.initialDelayMs ?? 100,
      maxDelayMs: options.resubscribe?.maxDelayMs ?? 5_000,
      maxAttempts: Number.POSITIVE_INFINITY,
    };
    this.ownHead = new OwnHead(driver);
    this.keyClaims = new KeyClaims(driver, (options) => this.readAll(options));
  }

  /**
   * Appends to one stream issued together go to the server in the order issued, each once the one before it settled:
   * an append with a command id or facts makes round trips before its events are sent (append.ts), and a later
   * append to the same stream must not overtake it.
   */
  appendToStream(streamId: string, events: readonly EventToAppend[], options: AppendOptions): Promise<AppendResult> {
    // Checked and serialised at the call, as on the embedded store: a refusal rejects the promise (never throws) and
    // waits for no earlier append; what is sent is what the caller passed.
    let prepared: PreparedAppend;
    try {
      this.assertOpen();
      prepared = prepareAppend(streamId, events, options);
    } catch (error) {
      return Promise.reject(error);
    }
    // Queued behind an append in flight when the store closed: refused, never sent after close (review 115).
    const append = async () => {
      this.assertOpen();
      // A key is certified against every earlier issue of it, those of versions before key claims too (key-claims.ts).
      if (prepared.certifiesKey !== undefined) {
        // A pass stopped by close refuses the append as closed, as one queued behind an append in flight is.
        await this.keyClaims.filled().catch((error: unknown) => {
          this.assertOpen();
          throw error;
        });
      }
      this.assertOpen();
      return appendToStream(this.driver, prepared, this.options.idempotencyScanLimit ?? 1000);
    };
    const before = this.appending.get(streamId);
    const result = before === undefined ? append() : before.then(append);
    const settled = result.then(ignore, ignore);
    this.appending.set(streamId, settled);
    void settled.then(() => {
      if (this.appending.get(streamId) === settled) this.appending.delete(streamId);
    });
    return result;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const from = options.fromRevision ?? 0n;
    if (typeof from !== 'bigint' || from < 0n) throw new Error('options.fromRevision: must be a non-negative bigint');
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(maxCount) || maxCount < 0) throw new Error('options.maxCount: must be a non-negative integer');
    const events = await this.driver.readStream(streamId, { from, backwards: false, maxCount });
    if (from === 0n) assertEntityStreamReadFrom(streamId, 0n, events[0]?.revision);
    return events.map(decode);
  }

  /**
   * No table of command ids here: the stream is read newest first, page by page, for the events whose append marker
   * (codec.ts) carries this command id. One append's events are contiguous, so the scan ends at the first event
   * before them; a command the stream does not hold costs a read of the whole stream (the engine asks only for ids
   * its cache saw on the stream).
   */
  async readCommand(streamId: string, commandId: string): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    if (typeof streamId !== 'string' || streamId.length === 0) throw new Error('streamId: must be a non-empty string');
    if (typeof commandId !== 'string' || commandId.length === 0) throw new Error('commandId: must be a non-empty string');
    const found: RecordedEvent[] = [];
    let from: bigint | 'end' = 'end';
    for (;;) {
      const page = await this.driver.readStream(streamId, { from, backwards: true, maxCount: COMMAND_PAGE });
      for (const event of page) {
        if (!isSystemEvent(event) && markerOf(event)?.commandId === commandId) found.push(decode(event));
        else if (found.length > 0) return found.reverse();
      }
      const oldest = page.at(-1);
      if (oldest === undefined || oldest.revision === 0n || page.length < COMMAND_PAGE) return found.reverse();
      from = oldest.revision - 1n;
    }
  }

  /**
   * No table of command ids here either: the id's claim (append.ts step 5, `credence-command-<id>`) names the stream
   * it is bound to. Ids appended before claims were written have none, and are not found.
   */
  async commandStream(commandId: string): Promise<string | undefined> {
    this.assertOpen();
    if (typeof commandId !== 'string' || commandId.length === 0) throw new Error('commandId: must be a non-empty string');
    const [claim] = await this.driver.readStream(commandClaimStreamOf(commandId), { from: 0n, backwards: false, maxCount: 1 });
    if (claim === undefined) return undefined;
    // Read as written, as the append reads it: a claim this adapter wrote is always its own.
    const claimant = (decode(claim).data as { claimant?: unknown }).claimant;
    return typeof claimant === 'string' ? claimant : undefined;
  }

  /**
   * SER-010: the stream the key's claim binds it to (append.ts claimKey). Answered once the claims of keys certified
   * before claims existed are filled in (key-claims.ts): before that, a key an earlier version certified would read as
   * certified by none. An engine's lookup waits for that pass (started by the first that needs it, rather than a scan
   * of $all per issue); a `readOnly` one never starts it and answers from reads (review 204).
   */
  async keyCertifiedBy(fingerprint: string, options?: KeyLookupOptions): Promise<string | undefined> {
    this.assertOpen();
    return this.keyClaims.certifiedBy(checkFingerprint(fingerprint, 'fingerprint'), options);
  }

  /** The key claims pass while it runs: how far its read of the log's issues is, and how many keys it claimed. */
  prepareKeyClaims(): void {
    // Its failure is not this caller's: the next writer that needs the claims starts the pass again (key-claims.ts).
    this.keyClaims.filled().catch(() => undefined);
  }

  keyClaimsFilling(): readonly { readonly name: string; readonly position: bigint | undefined }[] {
    const progress = this.keyClaims.progress();
    if (progress === undefined) return [];
    const claimed = progress.keys === undefined ? 'reading the issues' : `${progress.claimed} of ${progress.keys} keys claimed`;
    return [{ name: `key claims (${claimed})`, position: progress.readTo }];
  }

  /** SER-010: every stream whose CredentialIssued carries the key, in log order: a type-filtered read of $all. */
  async keyIssuers(fingerprint: string): Promise<readonly string[]> {
    this.assertOpen();
    return keyIssuersIn((options) => this.readAll(options), checkFingerprint(fingerprint, 'fingerprint'));
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const filter = compileFilter(options.filter, 'options.filter');
    const maxCount = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (maxCount !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxCount) || maxCount < 0)) {
      throw new Error('options.maxCount: must be a non-negative integer');
    }
    if (maxCount === 0) return;
    const newest = await this.#newestPosition();
    if (newest === undefined) return;
    const start = startAfter(options.afterPosition, 'options.afterPosition');
    if (start.seen !== undefined && start.seen >= newest) return;
    const reader = new EventReader(
      { driver: this.driver, filter, policy: { ...this.policy, maxAttempts: READ_ATTEMPTS }, until: newest },
      Promise.resolve(start),
    );
    try {
      for (let count = 0; count < maxCount; count += 1) {
        const next = await reader.next();
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await reader.close();
    }
  }

  subscribeToAll(options: SubscribeOptions): StoreSubscription {
    this.assertOpen();
    const filter = compileFilter(options.filter, 'options.filter');
    const pageBytes = options.pageBytes;
    if (pageBytes !== undefined && (!Number.isSafeInteger(pageBytes) || pageBytes < 1)) {
      throw new Error('options.pageBytes: must be a whole number >= 1, or omitted');
    }
    // Started now, not on the first next(): "from the end" means from when subscribeToAll was called.
    const start = this.startPoint(options.from);
    start.catch(() => undefined);
    // With pageBytes, the queue of received events pauses the call at that much payload too (review 294): a reader
    // that stalls (an event stream's client) holds that, not 256 events of any size. Without, by count alone.
    const reader = new EventReader(
      { driver: this.driver, filter, policy: this.policy, onDrop: this.options.onSubscriptionDropped, pageBytes },
      start,
    );
    const subscription = new EventStoreDbSubscription(reader, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * The newest record of $all that is no system record. Called at every live tick and every /readyz: its first read is
   * the one record at the end, which answers unless it is a system record; it reads on, in growing pages (own-head.ts),
   * only past system records, not a page of another application's records, which may be megabytes each (review 386).
   */
  async headPosition(): Promise<bigint | undefined> {
    this.assertOpen();
    let before: bigint | 'end' = 'end';
    for (let index = 0; ; index++) {
      const maxCount = backwardPageSize(index);
      const page = await this.driver.readAllBackwards({ before, maxCount });
      const newest = page.find((event) => !isSystemEvent(event));
      if (newest !== undefined) return newest.position;
      const oldest = page.at(-1);
      if (oldest?.position === undefined || page.length < maxCount) return undefined;
      before = oldest.position;
    }
  }

  /** The newest record Credence wrote, never another application's (own-head.ts): one that stays in $all. */
  async ownHeadPosition(): Promise<bigint | undefined> {
    this.assertOpen();
    return this.ownHead.position();
  }

  /**
   * Joins (creating it if missing) a persistent subscription group on $all and hands each event to `handler`.
   * EventStoreDB only; see persistent.ts for ack / retry / park.
   */
  async persistentSubscriptionToAll(
    group: string,
    handler: PersistentHandler,
    options: PersistentSubscriptionOptions = {},
  ): Promise<PersistentConsumer> {
    this.assertOpen();
    const consumer = await startPersistentConsumer(
      { driver: this.driver, policy: this.policy, onDrop: this.options.onSubscriptionDropped },
      group,
      handler,
      options,
    );
    this.consumers.add(consumer);
    void consumer.done.finally(() => this.consumers.delete(consumer)).catch(() => undefined);
    return consumer;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stopped, not awaited to its end: a pass over a large log outlasts a shutdown's grace; the next open resumes it.
    // First, as an append that certifies a key waits for it (and is refused when it stops).
    await this.keyClaims.stop();
    // An append already sent is answered before the client goes (those queued behind it are refused, above): close
    // resolves with nothing more to be written.
    await Promise.all(this.appending.values());
    await Promise.all([...this.subscriptions].map((s) => s.unsubscribe()));
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await this.driver.close();
  }

  private startPoint(from: SubscriptionStart): Promise<StartPoint> {
    switch (from.kind) {
      case 'start':
        return Promise.resolve({ start: { kind: 'start' }, seen: undefined });
      case 'after':
        return Promise.resolve(startAfter(from.position, 'options.from.position'));
      case 'end':
        return this.#endPoint();
    }
  }

  /**
   * After the newest record of $all, any (system ones included): the point is only to start after the current end.
   * That record may be another application's, gone once scavenged (review 216): the reader's own resume point is
   * Credence's newest record at or before it, found by the same scan back from the end.
   */
  async #endPoint(): Promise<StartPoint> {
    const { newest, own } = await this.ownHead.scan();
    if (newest === undefined) return { start: { kind: 'start' }, seen: undefined };
    const resume: WireStart = own === undefined ? { kind: 'start' } : { kind: 'after', position: own };
    return { start: { kind: 'after', position: newest }, seen: newest, resume };
  }

  /**
   * The record at exactly `position` (an event's, as this store returned it), or undefined when none is there: a
   * forward read of $all starting at that position, which includes the event there. Lets a reader fetch the event a
   * checkpoint names without asking for the position before it, which is no event's on this store.
   */
  async recordAt(position: bigint): Promise<RecordedEvent | undefined> {
    this.assertOpen();
    const at = checkPosition(position, 'position');
    if (at <= 0n) return undefined;
    const newest = await this.#newestPosition();
    if (newest === undefined || at > newest) return undefined;
    let event: WireEvent | undefined;
    try {
      [event] = await this.driver.readAllForwards({ from: at, maxCount: 1 });
    } catch (error) {
      // A position inside a record (one of another log: a restored backup's) is refused by a real server: no event
      // of this log is there. A server that is unavailable is another matter.
      if (isTransient(error)) throw error;
      return undefined;
    }
    return event === undefined || event.position !== at || isSystemEvent(event) ? undefined : decode(event);
  }

  /** The position of the newest record of $all, any (system ones included); undefined on an empty log. */
  async #newestPosition(): Promise<bigint | undefined> {
    const [newest] = await this.driver.readAllBackwards({ before: 'end', maxCount: 1 });
    return newest?.position;
  }

  /** Records leave $all when a stream's events are deleted or trimmed and scavenged (another application's too). */
  readonly gapless = false;

  private assertOpen(): void {
    if (this.closed) throw new Error('the EventStoreDB store is closed');
  }
}


/**
 * Strictly after `position`, an event's position as this store returned it: the server starts after it. Only those
 * are sent to the server (one inside a record is an error on a real one); 0 and below mean the start of $all, whose
 * first record sits past 0 (the adapter once asked for "after 0", and the server skipped the log's first event).
 */
function startAfter(position: bigint | undefined, argument: string): StartPoint {
  if (position === undefined) return { start: { kind: 'start' }, seen: undefined };
  const at = checkPosition(position, argument);
  return at <= 0n ? { start: { kind: 'start' }, seen: undefined } : { start: { kind: 'after', position: at }, seen: at };
}
