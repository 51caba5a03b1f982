import { decide as candidateEvents, targetOf, type Command } from '../../domain/commands/index.ts';
import { concurrencyConflict } from '../../domain/errors.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { DomainEvent } from '../../domain/events/index.ts';
import type { FactRead } from '../../domain/ports/index.ts';
import { evaluate, gatherFactsAsync, refusalError, viewOf, type EntitySnapshot, type LoadedEntity } from '../../machines/index.ts';
import { mayHaveCommand, type CachedEntity, type EntityCache } from './entity-cache.ts';

export type Decision =
  /** The command id was seen on this stream: the events it recorded then. */
  | { readonly kind: 'seen'; readonly entity: LoadedEntity; readonly seen: readonly DecodedEvent[] }
  /**
   * The events to append, every one accepted by the entity's machine against the facts read for it, the revision
   * each fact stream was read at (the append commits only if none has moved since) and the entity's snapshot
   * after them (what the cache keeps once they are stored).
   */
  | {
      readonly kind: 'append';
      readonly entity: CachedEntity;
      readonly events: readonly DomainEvent[];
      readonly facts: readonly FactRead[];
      readonly snapshot: EntitySnapshot;
    };

/**
 * The events of this command id already on the stream. The cache keeps the stream's command ids, so only a likely
 * retry reads the whole stream (which the outcome of a retry needs anyway).
 */
const seenOn = async (cache: EntityCache, entity: CachedEntity, commandId: string): Promise<{ full: LoadedEntity; seen: DecodedEvent[] } | undefined> => {
  if (!mayHaveCommand(entity, commandId)) return undefined;
  const full = await cache.loadFull(entity.kind, entity.id);
  const seen = full.events.filter((e) => e.metadata.commandId === commandId);
  return seen.length > 0 ? { full, seen } : undefined;
};

/**
 * Steps 4 to 6: load the target entity, gather the facts its guards need (other entities, always caught up with
 * their streams), and decide with the machine. On the first attempt the target may come from the cache without a
 * read: the engine runs one command per stream at a time, so the cached entry is current unless another process
 * appended; then the expected revision fails at append, the entry is dropped and the retry reads.
 */
export const decideCommand = async (cache: EntityCache, command: Command, at: Date, firstAttempt: boolean): Promise<Decision> => {
  const { kind, id } = targetOf(command);
  const entity = await cache.load(kind, id, firstAttempt);
  const retried = await seenOn(cache, entity, command.metadata.commandId);
  if (retried !== undefined) return { kind: 'seen', entity: retried.full, seen: retried.seen };

  let snapshot = entity.snapshot;
  const events = candidateEvents(command);
  const read = new Map<string, FactRead>();
  for (const event of events) {
    const facts = await gatherFactsAsync(event, snapshot.context, async (k, i) => {
      const other = await cache.load(k, i);
      // The first read of a stream is what the decision rests on; a later, newer read only makes the check fail.
      if (!read.has(other.streamId)) read.set(other.streamId, { streamId: other.streamId, revision: other.revision });
      return other.exists ? viewOf(other.snapshot) : undefined;
    });
    const verdict = evaluate(kind, snapshot, { ...event, at: at.getTime(), facts });
    if (!verdict.ok) {
      // Decided on a cached entity without a read: make sure the refusal is not about a state that moved on.
      if (firstAttempt && (await cache.load(kind, id)).revision !== entity.revision) {
        throw concurrencyConflict(entity.streamId, 'the cached revision', 'a newer one');
      }
      throw refusalError(kind, entity.streamId, entity.exists, event.type, verdict);
    }
    snapshot = verdict.snapshot;
  }
  return { kind: 'append', entity, events, facts: [...read.values()], snapshot };
};
