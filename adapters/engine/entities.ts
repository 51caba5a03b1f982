import { entityIdOf } from '../../domain/events/index.ts';
import { decodeStored, type DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, initialSnapshot, type EntitySnapshot } from '../../machines/index.ts';
import type { EventStore, RecordedEvent } from '../store/port.ts';

/** An entity rebuilt from its stream: its machine snapshot, its decoded events and its stream revision. */
export interface LoadedEntity {
  readonly kind: EntityKind;
  readonly id: string;
  readonly streamId: string;
  readonly snapshot: EntitySnapshot;
  readonly events: readonly DecodedEvent[];
  /** Revision of the last event; undefined when the stream does not exist. */
  readonly revision: bigint | undefined;
}

export class BrokenHistoryError extends Error {
  constructor(readonly streamId: string, readonly position: bigint, readonly reason: string) {
    super(`${streamId} has a broken history at position ${position}: ${reason} (run credence replay)`);
    this.name = 'BrokenHistoryError';
  }
}

/** Applies already-stored events to an entity; a stored event its machine refuses means the history is broken. */
export const applyStored = (entity: LoadedEntity, records: readonly RecordedEvent[]): LoadedEntity => {
  let { snapshot } = entity;
  const events = [...entity.events];
  let revision = entity.revision;
  for (const record of records) {
    const decoded = decodeStored(record);
    if (!decoded.ok) throw new BrokenHistoryError(entity.streamId, record.position, decoded.reason);
    const { event, at } = decoded.value;
    if (entityIdOf(event) !== entity.id) {
      throw new BrokenHistoryError(entity.streamId, record.position, `${event.type} is addressed to ${entityIdOf(event)}`);
    }
    const verdict = evaluate(entity.kind, snapshot, { ...event, at, facts: {}, trusted: true });
    if (!verdict.ok) throw new BrokenHistoryError(entity.streamId, record.position, `${event.type} refused in ${verdict.state}`);
    snapshot = verdict.snapshot;
    events.push(decoded.value);
    revision = record.revision;
  }
  return { ...entity, snapshot, events, revision };
};

export const emptyEntity = (kind: EntityKind, id: string): LoadedEntity => ({
  kind,
  id,
  streamId: streamIdOf(kind, id),
  snapshot: initialSnapshot(kind, id),
  events: [],
  revision: undefined,
});

/**
 * Keeps recently used entities so a decision reads only the events appended since (one indexed query), not
 * the whole stream. Bounded: least recently used entries are dropped past `capacity`.
 */
export class EntityCache {
  readonly #entries = new Map<string, LoadedEntity>();
  constructor(private readonly store: EventStore, private readonly capacity: number) {}

  /**
   * The entity, caught up with its stream. `cachedOnly` skips the catch-up read for an entity already in the
   * cache: safe only for the stream about to be appended to, whose expected revision catches any staleness.
   */
  async load(kind: EntityKind, id: string, cachedOnly = false): Promise<LoadedEntity> {
    const streamId = streamIdOf(kind, id);
    const hit = this.#entries.get(streamId);
    if (cachedOnly && hit !== undefined) {
      this.remember(hit);
      return hit;
    }
    const cached = hit ?? emptyEntity(kind, id);
    const fromRevision = cached.revision === undefined ? 0n : cached.revision + 1n;
    const records = await this.store.readStream(streamId, { fromRevision });
    const entity = records.length === 0 ? cached : applyStored(cached, records);
    this.remember(entity);
    return entity;
  }

  remember(entity: LoadedEntity): void {
    this.#entries.delete(entity.streamId);
    this.#entries.set(entity.streamId, entity);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  forget(streamId: string): void {
    this.#entries.delete(streamId);
  }
}
