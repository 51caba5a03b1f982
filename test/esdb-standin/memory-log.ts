/**
 * TEST-ONLY: the in-memory transaction log behind the EventStoreDB stand-in. It is not an event store; it models
 * just enough of EventStoreDB's observable behaviour for the real client to be exercised against it: streams with
 * 0-based revisions, one global log whose commit positions grow with gaps (and may start beyond 2^53), optimistic
 * concurrency on append, and EventStoreDB's idempotent re-append of the same event ids.
 */
import { randomUUID } from 'node:crypto';

export interface LoggedEvent {
  readonly streamId: string;
  readonly revision: bigint;
  /** Commit position; equal to the prepare position, as for every event written over gRPC. */
  readonly position: bigint;
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly customMetadata: Uint8Array;
  /** .NET ticks (100 ns since 0001-01-01), what the server puts in the `created` metadata entry. */
  readonly createdTicks: bigint;
}

export interface ProposedEvent {
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly customMetadata: Uint8Array;
}

export type Expectation =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'revision'; readonly revision: bigint };

export type AppendOutcome =
  | { readonly kind: 'success'; readonly revision: bigint | undefined; readonly position: bigint | undefined }
  | { readonly kind: 'wrong_expected_version'; readonly current: bigint | undefined; readonly expected: Expectation }
  | { readonly kind: 'stream_deleted' };

/** The revision of the tombstone a hard delete writes (long.MaxValue). */
const TOMBSTONE_REVISION = 9_223_372_036_854_775_807n;
const TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000n;
// Real commit positions are byte offsets in the transaction file: each record takes its size plus a header, and
// the file opens with an epoch record, so no event ever sits at the very first position.
const RECORD_OVERHEAD = 96n;
const EPOCH_RECORD_SIZE = 128n;

export class MemoryLog {
  /** Every event in commit order: $all. */
  readonly all: LoggedEvent[] = [];
  private readonly streams = new Map<string, LoggedEvent[]>();
  private nextPosition: bigint;
  private readonly listeners = new Set<() => void>();

  /** `repeatsWithoutPosition`: answer a repeated batch with `no_position`, as older servers do (review 55). */
  constructor(
    private readonly logStart: bigint,
    private readonly options: { readonly repeatsWithoutPosition?: boolean } = {},
  ) {
    this.nextPosition = logStart + EPOCH_RECORD_SIZE;
  }

  stream(streamId: string): readonly LoggedEvent[] | undefined {
    return this.streams.get(streamId);
  }

  /** Called after every successful append that wrote something. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  append(streamId: string, expected: Expectation, events: readonly ProposedEvent[]): AppendOutcome {
    if (this.tombstoned.has(streamId)) return { kind: 'stream_deleted' };
    const existing = this.streams.get(streamId) ?? [];
    const current = existing.length === 0 ? undefined : BigInt(existing.length - 1);
    const idempotent = this.idempotentResult(existing, expected, events);
    if (idempotent !== undefined) return idempotent;
    if (!matches(expected, current)) return { kind: 'wrong_expected_version', current, expected };
    if (events.length === 0) return { kind: 'success', revision: current, position: undefined };
    const stream = existing.length === 0 ? [] : existing;
    const createdTicks = BigInt(Date.now()) * 10_000n + TICKS_AT_UNIX_EPOCH;
    for (const proposed of events) {
      const event: LoggedEvent = {
        ...proposed,
        streamId,
        revision: BigInt(stream.length),
        position: this.nextPosition,
        createdTicks,
      };
      this.nextPosition += RECORD_OVERHEAD + BigInt(proposed.data.length + proposed.customMetadata.length);
      stream.push(event);
      this.all.push(event);
    }
    this.streams.set(streamId, stream);
    const last = stream[stream.length - 1]!;
    for (const listener of [...this.listeners]) listener();
    return { kind: 'success', revision: last.revision, position: last.position };
  }

  /**
   * TEST-ONLY hook: the stream's records leave $all, as a deleted or trimmed stream's records (another application's,
   * on a cluster shared with it) leave it once the server scavenges. A read or subscription from one of their
   * positions is then refused, as inside no record (isInsideARecord). Open $all subscriptions go on from the position
   * they reached (`removals` tells them to find their place again); persistent groups' cursors are not adjusted.
   */
  scavenge(streamId: string): readonly bigint[] {
    const removed = this.all.filter((event) => event.streamId === streamId).map((event) => event.position);
    if (removed.length === 0) return removed;
    // In place (`all` is read by reference), without spreading a long log into one call's arguments.
    let kept = 0;
    for (const event of this.all) if (event.streamId !== streamId) this.all[kept++] = event;
    this.all.length = kept;
    this.streams.delete(streamId);
    this.scavenges += 1;
    return removed;
  }

  /** How many scavenges removed records: an index into `all` taken before one may stand past a record now. */
  get removals(): number {
    return this.scavenges;
  }
  private scavenges = 0;

  /**
   * TEST-ONLY hook: another writer of the cluster set the stream's truncate-before (`$tb`, or a max count) in its
   * metadata: reads of the stream start at `before`, its revisions stay as they were and appends go on after them.
   * The records stay in $all (until a scavenge, `scavenge`).
   */
  truncate(streamId: string, before: bigint): void {
    this.truncatedBefore.set(streamId, before);
  }

  /** The first revision a read of the stream returns (0 unless truncated). */
  firstReadable(streamId: string): bigint {
    return this.truncatedBefore.get(streamId) ?? 0n;
  }
  private readonly truncatedBefore = new Map<string, bigint>();

  /**
   * TEST-ONLY hook: another writer hard-deleted the stream (a tombstone): every read and append of it is then refused
   * as deleted, for good, and $all gets the `$streamDeleted` record the server writes.
   */
  tombstone(streamId: string): void {
    this.tombstoned.add(streamId);
    const event: LoggedEvent = {
      streamId,
      revision: TOMBSTONE_REVISION,
      position: this.nextPosition,
      id: randomUUID(),
      type: '$streamDeleted',
      contentType: 'application/octet-stream',
      data: new Uint8Array(),
      customMetadata: new Uint8Array(),
      createdTicks: BigInt(Date.now()) * 10_000n + TICKS_AT_UNIX_EPOCH,
    };
    this.nextPosition += RECORD_OVERHEAD;
    this.all.push(event);
    for (const listener of [...this.listeners]) listener();
  }

  isTombstoned(streamId: string): boolean {
    return this.tombstoned.has(streamId);
  }
  private readonly tombstoned = new Set<string>();

  /** Index in `all` of the first event whose position is at or after `position`. */
  indexAtOrAfter(position: bigint): number {
    let low = 0;
    let high = this.all.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.all[middle]!.position < position) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * True for a position inside a record (the epoch record's or an event's) rather than at its start: a real server
   * refuses to read or subscribe from there ("Trying to read from an invalid position."). A position at or past the
   * end of the log is not inside one.
   */
  isInsideARecord(position: bigint): boolean {
    if (position <= this.logStart || position >= this.nextPosition) return false;
    return this.all[this.indexAtOrAfter(position)]?.position !== position;
  }

  /**
   * EventStoreDB answers a re-sent batch (same ids, same place in the stream) with the first write's result instead
   * of appending again; a batch that only partly matches is a wrong expected version.
   */
  private idempotentResult(
    existing: readonly LoggedEvent[],
    expected: Expectation,
    events: readonly ProposedEvent[],
  ): AppendOutcome | undefined {
    const first = events[0];
    if (first === undefined) return undefined;
    const start = existing.findIndex((e) => e.id === first.id);
    if (start < 0) return undefined;
    const expectedStart =
      expected.kind === 'revision' ? Number(expected.revision) + 1 : expected.kind === 'no_stream' ? 0 : start;
    if (start !== expectedStart) return undefined;
    const all = events.every((e, i) => existing[start + i]?.id === e.id);
    const current = BigInt(existing.length - 1);
    if (!all) return { kind: 'wrong_expected_version', current, expected };
    const last = existing[start + events.length - 1]!;
    return { kind: 'success', revision: last.revision, position: this.options.repeatsWithoutPosition === true ? undefined : last.position };
  }
}

function matches(expected: Expectation, current: bigint | undefined): boolean {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return current === undefined;
    case 'stream_exists':
      return current !== undefined;
    case 'revision':
      return current === expected.revision;
  }
}
