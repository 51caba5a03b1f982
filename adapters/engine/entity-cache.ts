import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { applyStored, emptyEntity, type EntitySnapshot, type LoadedEntity } from '../../machines/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { entityStreamPages } from '../../domain/ports/entity-stream-pages.ts';
import type { StoredRecord } from '../../domain/stored.ts';
import { jsonLength } from './json-size.ts';
import { BoundedByBytes } from './bounded-by-bytes.ts';

/**
 * What the cache keeps of an entity: its machine snapshot and revision, never its events (issue 15 item 3). The
 * command ids recorded on its stream stay, joined in one string, so that a retried command is recognised before
 * it is decided again; everything else a decision needs is in the snapshot.
 */
export interface CachedEntity {
  readonly kind: EntityKind;
  readonly id: string;
  readonly streamId: string;
  readonly snapshot: EntitySnapshot;
  /** Revision of the stream's last record (fact claims included); undefined when the stream does not exist. */
  readonly revision: bigint | undefined;
  /** Whether the entity has events (a stream holding only fact claims is no entity yet). */
  readonly exists: boolean;
  /** `\n`-delimited command ids of the stream's events, with a `\n` at both ends. */
  readonly commandIds: string;
  /** Estimated bytes this entry holds on the heap. */
  readonly bytes: number;
}

export interface EntityCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  /** Loads served from a cached snapshot (caught up with at most the records appended since). */
  readonly hits: number;
  /**
   * Loads that rebuilt the entity from the start of its stream: not cached, or read whole for its history
   * (`loadFull`, which no cached snapshot can serve).
   */
  readonly misses: number;
  /** hits / (hits + misses); 0 before the first load. */
  readonly hitRate: number;
  readonly evictions: number;
  /**
   * Commands starting an entity not cached, answered with a new entity without a read (`cachedOrNew`): neither a hit
   * nor a miss, as nothing was read (review 184: counted as misses, a fleet being registered showed a 0% hit rate).
   */
  readonly assumedNew: number;
  /**
   * Entities read ahead by `prefetch` (a rotation tick's node facts), many per store read. Not loads: a decision that
   * then finds one counts as a hit, so the hit rate is read next to this.
   */
  readonly prefetched: number;
}

/** Streams a prefetch reads at once: one store read each, about 10 ms of the event loop for nodes. */
const PREFETCH_SLICE = 512;

/** Records `loadFull` reads and rebuilds between two turns of the event loop: a few milliseconds of work. */
const FULL_LOAD_PAGE = 250;

/** Default bound: 64 MiB of snapshots, room for some 55,000 entities of the lifecycle mix (docs/performance.md). */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Per entry beyond its strings: the XState snapshot object, its `_nodes` array, the context object, this entry, its
 * Map slot and its link in the recency list. Measured with `bench/memory.ts` (heap growth / entries of the lifecycle
 * mix), rounded up to 640 before the list; its link measured 40 bytes more per entry (200,000 keys, recency-list.ts).
 */
export const ENTRY_OVERHEAD_BYTES = 680;

// V8 keeps strings of these ids one byte per char; the JSON length of the context (measured without building the
// JSON, json-size.ts) approximates the context's own footprint.
const estimateBytes = (streamId: string, commandIds: string, snapshot: EntitySnapshot): number =>
  ENTRY_OVERHEAD_BYTES + streamId.length + commandIds.length + 2 * jsonLength(snapshot.context);

const commandIdsOf = (entity: LoadedEntity, before = '\n'): string => {
  let joined = before;
  for (const event of entity.events) joined += `${event.metadata.commandId}\n`;
  return joined;
};

/** The entity its whole stream makes (no records: a new entity), with every event: a prefetch's rebuild of its read. */
const rebuilt = (kind: EntityKind, id: string, records: readonly StoredRecord[]): LoadedEntity =>
  records.length === 0 ? emptyEntity(kind, id) : applyStored(emptyEntity(kind, id), records);

/** A compact entry for a fully or incrementally loaded entity (`prior`: the entry its new events extend). */
export const compact = (entity: LoadedEntity, prior?: CachedEntity): CachedEntity => {
  const commandIds = commandIdsOf(entity, prior?.commandIds);
  return {
    kind: entity.kind,
    id: entity.id,
    streamId: entity.streamId,
    snapshot: entity.snapshot,
    revision: entity.revision,
    exists: (prior?.exists ?? false) || entity.events.length > 0,
    commandIds,
    bytes: estimateBytes(entity.streamId, commandIds, entity.snapshot),
  };
};

/** The entry after the engine appended `commandId`'s events, as decided: the decision's snapshot at the new revision. */
export const afterAppend = (entry: CachedEntity, snapshot: EntitySnapshot, revision: bigint, commandId: string): CachedEntity => {
  const commandIds = `${entry.commandIds}${commandId}\n`;
  return { ...entry, snapshot, revision, exists: true, commandIds, bytes: estimateBytes(entry.streamId, commandIds, snapshot) };
};

/** Whether the stream holds events of this command id (command ids are UUIDs: no `\n` inside). */
export const mayHaveCommand = (entry: CachedEntity, commandId: string): boolean => entry.commandIds.includes(`\n${commandId}\n`);

/**
 * Recently used entities as compact snapshots, so a decision reads only the records appended since (one indexed
 * query) instead of replaying the whole stream. Bounded by estimated bytes, not by count: least recently used
 * entries go first once `maxBytes` is passed, so one million entities in the store cost the cache no more than
 * its bound (issue 15 item 3).
 */
export class EntityCache {
  /** Oldest use first: what eviction takes (bounded-by-bytes.ts, recency-list.ts). */
  readonly #entries: BoundedByBytes<CachedEntity>;
  #hits = 0;
  #misses = 0;
  #assumedNew = 0;
  #prefetched = 0;

  constructor(
    private readonly store: EventStore,
    private readonly maxBytes: number,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new Error('options.cacheMaxBytes: must be a whole number of bytes >= 0');
    this.#entries = new BoundedByBytes(maxBytes);
  }

  /**
   * The entity, caught up with its stream. `cachedOnly` skips the catch-up read for an entity already in the
   * cache: safe only for the stream about to be appended to, whose expected revision catches any staleness.
   */
  async load(kind: EntityKind, id: string, cachedOnly = false): Promise<CachedEntity> {
    const streamId = streamIdOf(kind, id);
    const hit = this.#entries.get(streamId);
    if (hit !== undefined) this.#hits += 1;
    else this.#misses += 1;
    if (cachedOnly && hit !== undefined) {
      this.remember(hit);
      return hit;
    }
    const fromRevision = hit?.revision === undefined ? 0n : hit.revision + 1n;
    const records = await this.store.readStream(streamId, { fromRevision });
    if (hit !== undefined && records.length === 0) {
      this.remember(hit);
      return hit;
    }
    const base: LoadedEntity =
      hit === undefined ? emptyEntity(kind, id) : { kind, id, streamId, snapshot: hit.snapshot, events: [], revision: hit.revision };
    const entry = compact(records.length === 0 ? base : applyStored(base, records), hit);
    this.#keepRead(entry);
    return entry;
  }

  /**
   * The cached entry, or else a new entity, without reading the store: for the target of a command that starts an
   * entity (its event is accepted only by a new stream: a registration, a pseudonym's first rotation), whose stream
   * on a cache miss almost never exists. Safe for the same reason as `cachedOnly`: the append expects no stream, so a
   * stream that does exist fails the append (retried on a real read), a command recorded there before is answered by
   * the store's idempotency check, and a refusal is re-checked against the store before it is returned (decide.ts).
   * Not remembered: only an append makes the guess a fact.
   */
  cachedOrNew(kind: EntityKind, id: string): CachedEntity {
    const hit = this.#entries.get(streamIdOf(kind, id));
    if (hit !== undefined) {
      this.#hits += 1;
      this.remember(hit);
      return hit;
    }
    this.#assumedNew += 1;
    return compact(emptyEntity(kind, id));
  }

  /**
   * Reads the entities not cached yet in one store call (`readStreams`) and keeps those whose stream exists, so that
   * the decisions about to read them as facts or targets find them without a read each. An entry cached meanwhile is
   * newer (an append remembered it) and stays. Without `readStreams`, or with a bound of 0 bytes (which keeps
   * nothing), nothing is read: each entity is read when a decision loads it.
   */
  async prefetch(kind: EntityKind, ids: readonly string[]): Promise<void> {
    const readStreams = this.store.readStreams?.bind(this.store);
    if (readStreams === undefined || this.maxBytes === 0) return;
    const missing = new Map<string, string>();
    for (const id of ids) {
      const streamId = streamIdOf(kind, id);
      if (!this.#entries.has(streamId)) missing.set(streamId, id);
    }
    const streamIds = [...missing.keys()];
    for (let start = 0; start < streamIds.length; start += PREFETCH_SLICE) {
      // The embedded store reads synchronously: between slices, the event loop serves what waits (group commits,
      // requests) instead of waiting for a whole chunk's read and rebuild (some 45 ms for 2,048 nodes).
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const streams = await readStreams(streamIds.slice(start, start + PREFETCH_SLICE));
      for (const [streamId, records] of streams) {
        const id = missing.get(streamId);
        if (id === undefined || this.#entries.has(streamId) || records.length === 0) continue;
        this.#prefetched += 1;
        this.remember(compact(rebuilt(kind, id, records)));
      }
    }
  }

  /**
   * The entity with every event, rebuilt from its whole stream (for callers that need its history); refreshes the
   * entry. A miss whatever is cached: the cache keeps no events, so no snapshot serves it.
   */
  async loadFull(kind: EntityKind, id: string): Promise<LoadedEntity> {
    this.#misses += 1;
    const streamId = streamIdOf(kind, id);
    // Read and rebuilt a page at a time with a turn of the event loop between pages: an entity at the bound (10,000
    // events) read whole and rebuilt held the loop some 100 ms in one block (review 242's follow-up). A fold, so the
    // same entity (or the same BrokenHistoryError) as one rebuild of the whole stream; a stream truncated between two
    // pages fails as one read of it would (entity-stream-pages.ts, review 254).
    let entity = emptyEntity(kind, id);
    for await (const page of entityStreamPages(this.store, streamId, FULL_LOAD_PAGE, yieldToLoop)) {
      if (page.length > 0) entity = applyStored(entity, page);
    }
    // An append decided meanwhile remembered a newer entry: this older one would only cost it a longer catch-up.
    const cached = this.#entries.get(streamId);
    if (cached?.revision === undefined || entity.revision === undefined || cached.revision <= entity.revision) this.#keepRead(compact(entity));
    return entity;
  }

  remember(entry: CachedEntity): void {
    this.#entries.set(entry.streamId, entry);
  }

  /**
   * Keeps what a read found, when its stream exists. A stream that does not exist is not kept, as the hello lookups'
   * memo keeps none (peek-memo.ts): reads of ids that do not exist (`GET /v1/entities/{kind}/{id}`, a refused
   * command) would otherwise fill the cache with empty entries and evict the real ones (review 184). Only an append
   * makes such a stream.
   */
  #keepRead(entry: CachedEntity): void {
    if (entry.revision !== undefined) this.remember(entry);
  }

  forget(streamId: string): void {
    this.#entries.delete(streamId);
  }

  stats(): EntityCacheStats {
    const loads = this.#hits + this.#misses;
    return {
      entries: this.#entries.size,
      bytes: this.#entries.bytes,
      maxBytes: this.maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      hitRate: loads === 0 ? 0 : this.#hits / loads,
      evictions: this.#entries.evictions,
      assumedNew: this.#assumedNew,
      prefetched: this.#prefetched,
    };
  }
}
