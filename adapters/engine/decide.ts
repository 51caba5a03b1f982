import { decide as candidateEvents, targetOf, type Command } from '../../domain/commands/index.ts';
import { concurrencyConflict } from '../../domain/errors.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { DomainEvent } from '../../domain/events/index.ts';
import type { FactRead } from '../../domain/ports/index.ts';
import { evaluate, gatherFactsAsync, refusalError, viewOf, type LoadedEntity } from '../../machines/index.ts';
import type { EntityCache } from './entity-cache.ts';

export type Decision =
  /** The command id was seen on this stream: the events it recorded then. */
  | { readonly kind: 'seen'; readonly entity: LoadedEntity; readonly seen: readonly DecodedEvent[] }
  /**
   * The events to append, every one accepted by the entity's machine against the facts read for it, and the
   * revision each fact stream was read at: the append commits only if none has moved since.
   */
  | {
      readonly kind: 'append';
      readonly entity: LoadedEntity;
      readonly events: readonly DomainEvent[];
      readonly facts: readonly FactRead[];
    };

/**
 * Steps 4 to 6: load the target entity, gather the facts its guards need (other entities, always read fresh), and
 * decide with the machine. On the first attempt the target may come from
 * the cache without a read: if another writer appended meanwhile, the expected revision fails at append, the
 * cache entry is dropped and the retry reads.
 */
export const decideCommand = async (cache: EntityCache, command: Command, at: Date, firstAttempt: boolean): Promise<Decision> => {
  const { kind, id } = targetOf(command);
  const entity = await cache.load(kind, id, firstAttempt);
  const seen = entity.events.filter((e) => e.metadata.commandId === command.metadata.commandId);
  if (seen.length > 0) return { kind: 'seen', entity, seen };

  let snapshot = entity.snapshot;
  const events = candidateEvents(command);
  const read = new Map<string, FactRead>();
  for (const event of events) {
    const facts = await gatherFactsAsync(event, snapshot.context, async (k, i) => {
      const other = await cache.load(k, i);
      // The first read of a stream is what the decision rests on; a later, newer read only makes the check fail.
      if (!read.has(other.streamId)) read.set(other.streamId, { streamId: other.streamId, revision: other.revision });
      return other.events.length === 0 ? undefined : viewOf(other.snapshot);
    });
    const verdict = evaluate(kind, snapshot, { ...event, at: at.getTime(), facts });
    if (!verdict.ok) {
      // Decided on a cached entity without a read: make sure the refusal is not about a state that moved on.
      if (firstAttempt && (await cache.load(kind, id)).revision !== entity.revision) {
        throw concurrencyConflict(entity.streamId, 'the cached revision', 'a newer one');
      }
      throw refusalError(kind, entity.streamId, entity.events.length > 0, event.type, verdict);
    }
    snapshot = verdict.snapshot;
  }
  return { kind: 'append', entity, events, facts: [...read.values()] };
};
