import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { applyStored, emptyEntity, type LoadedEntity } from '../../machines/index.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';

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
