import type { Command } from '../../domain/commands/index.ts';
import type { DomainEvent } from '../../domain/events/index.ts';
import type { EventMetadata, RecordedToken } from '../../domain/metadata.ts';
import { fastEventIdFor } from './event-ids.ts';
import { currentVersionOf } from '../../domain/upcasters.ts';
import { ExpectedRevision, type CommandOutcome, type EventStore, type EventToAppend, type FactRead } from '../../domain/ports/index.ts';
import { certifiedKeyOf, stateOf, type EntitySnapshot } from '../../machines/index.ts';
import { afterAppend, type CachedEntity, type EntityCache } from './entity-cache.ts';
import { firstOutcome, recordedAnywhere } from './idempotency.ts';

/**
 * `at` as ISO 8601, kept for the last instant formatted: commands decided in the same millisecond (a wave of
 * concurrent callers, a fake clock) share one string instead of formatting it again each (some 1-3 µs).
 */
let lastInstant = { ms: Number.NaN, iso: '' };
const isoOf = (at: Date): string => {
  const ms = at.getTime();
  if (ms !== lastInstant.ms) lastInstant = { ms, iso: at.toISOString() };
  return lastInstant.iso;
};

/**
 * The events as stored: ids derived from the command id, and the command's metadata on each, with the token it came
 * with when its caller named one (ExecuteOptions.token, review 188). One metadata object per event, built in one
 * literal (no spread of a shared one: a copy per event through V8's slow clone path).
 */
const toAppend = (command: Command, events: readonly DomainEvent[], at: Date, token: RecordedToken | undefined): EventToAppend[] => {
  const { commandId, actor, correlationId, causationId, signature } = command.metadata;
  const occurredAt = isoOf(at);
  const appending: EventToAppend[] = [];
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    const metadata: EventMetadata = {
      schemaVersion: currentVersionOf(event.type),
      actor,
      commandId,
      commandType: command.type,
      correlationId: correlationId ?? commandId,
      causationId: causationId ?? commandId,
      occurredAt,
      ...(signature !== undefined ? { signature } : {}),
      ...(token !== undefined ? { token } : {}),
    };
    appending.push({
      id: fastEventIdFor(commandId, index),
      type: event.type,
      data: event.data as EventToAppend['data'],
      metadata: metadata as unknown as EventToAppend['metadata'],
    });
  }
  return appending;
};

/**
 * Step 7, append: with the expected revision of the stream the decision was made on, the revisions of the facts it
 * read (the store refuses the append if any moved), and the command id as the store's idempotency key. The outcome
 * is the entity after the append: the snapshot the machine decided, which the cache keeps at the new revision.
 */
export const appendDecision = async (
  store: EventStore,
  cache: EntityCache,
  command: Command,
  entity: CachedEntity,
  events: readonly DomainEvent[],
  facts: readonly FactRead[],
  snapshot: EntitySnapshot,
  at: Date,
  token?: RecordedToken,
): Promise<CommandOutcome> => {
  const { commandId } = command.metadata;
  const appending = toAppend(command, events, at, token);
  // SER-010: a credential's key is bound to its stream at the commit, as the facts are held (keyNeverCertified).
  const certifiesKey = certifiedKeyOf(events);
  const result = await store.appendToStream(entity.streamId, appending, {
    expectedRevision: ExpectedRevision.after(entity.revision),
    commandId,
    ...(facts.length > 0 ? { facts } : {}),
    ...(certifiesKey !== undefined ? { certifiesKey } : {}),
  });
  if (result.deduplicated) {
    // Another writer (or this one, before a cache eviction) recorded this command first: return its outcome.
    // When the command id was first used on another stream, for another command or by another actor (id or role),
    // firstOutcome refuses it: the same rule, in the same words, as a reuse seen before the append.
    // The id's events are looked for where the store bound it when they are not on this stream, so that another
    // actor's reuse is refused in the same words whichever stream it aimed at (idempotency.ts recordedAnywhere).
    const fresh = await cache.loadFull(entity.kind, entity.id);
    const own = fresh.events.filter((e) => e.metadata.commandId === commandId);
    const seen = own.length > 0 ? own : ((await recordedAnywhere(store, entity.streamId, commandId)) ?? []);
    return firstOutcome(store, command, fresh, seen);
  }
  cache.remember(afterAppend(entity, snapshot, result.nextExpectedRevision, commandId));
  const { streamId } = entity;
  const state = stateOf(snapshot);
  // A single event's position is the append's position; several may have gaps (EventStoreDB): re-read those.
  const [only] = appending;
  if (appending.length === 1 && only !== undefined) {
    const { id, type, data, metadata } = only;
    const recorded = { id, type, data, metadata, streamId, revision: result.nextExpectedRevision, position: result.position };
    return { commandId, streamId, state, deduplicated: false, events: [recorded] };
  }
  const first = result.nextExpectedRevision - BigInt(appending.length - 1);
  const stored = await store.readStream(streamId, { fromRevision: first, maxCount: appending.length });
  return { commandId, streamId, state, deduplicated: false, events: stored.filter((e) => e.metadata['commandId'] === commandId) };
};
