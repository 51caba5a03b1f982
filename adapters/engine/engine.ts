import { COMMAND_CATALOG, decide, parseCommand, targetOf, type Command } from '../../domain/commands/index.ts';
import { concurrencyConflict, isCredenceError, unauthorised, validationError } from '../../domain/errors.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { canonicalJson } from '../crypto/index.ts';
import { currentVersionOf } from '../../domain/upcasters.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { SYSTEM_ACTOR_IDS, type EventMetadata } from '../../domain/metadata.ts';
import { evaluate, factSourcesOf, refusalError, stateOf, viewOf, type Facts, type FactName } from '../../machines/index.ts';
import type { Clock } from '../clock/clock.ts';
import { ExpectedRevision, type EventStore, type EventToAppend, type RecordedEvent } from '../store/port.ts';
import { EntityCache, applyStored, type LoadedEntity } from './entities.ts';
import type { Observable } from 'rxjs';
// Not the folder's index: that one also loads the pseudonymised variant, which depends on the engine.
import { lifecycleEvents$ } from '../../projections/streams/lifecycle-events.ts';
import type { DeliveryOptions, LifecycleEvent, LifecycleFilterInput } from '../../projections/streams/index.ts';
import { eventIdFor, randomCommandId } from './event-ids.ts';

export interface EngineOptions {
  readonly store: EventStore;
  readonly clock: Clock;
  /** How many times a command is re-read and re-decided after a concurrency conflict. */
  readonly maxRetries?: number;
  /** Entities kept in memory between commands. */
  readonly cacheSize?: number;
  /** Actor ids allowed to act with the `system` role. Default: the built-in process manager, scheduler and rotation. */
  readonly systemActors?: readonly string[];
  /** Checks the actor's request signature before deciding (non-repudiation, SER-016); throws a typed error. */
  readonly verifyRequest?: (command: Command) => Promise<void> | void;
}

export interface CommandOutcome {
  readonly commandId: string;
  readonly streamId: string;
  /** State of the entity after the command. */
  readonly state: string;
  readonly events: readonly RecordedEvent[];
  /** True when the command id had been seen: nothing was appended and the first outcome is returned. */
  readonly deduplicated: boolean;
}

export interface Engine {
  /**
   * Validate -> read -> replay -> decide (machine guards) -> append with expected revision; retried on conflict.
   * For commands from outside: the `system` role is never accepted here, whatever the input claims.
   */
  execute(input: unknown): Promise<CommandOutcome>;
  /**
   * The same pipeline for the engine's own system actors (process manager, expiry scheduler, pseudonym rotation):
   * in-process code holding the engine, never input from an interface. The actor must be a configured system actor.
   */
  executeAsSystem(input: unknown): Promise<CommandOutcome>;
  /** The entity as its machine sees it now. */
  entity(kind: EntityKind, id: string): Promise<LoadedEntity>;
  /**
   * Lifecycle events for integrators (issue 6 item 3): catch-up then live, from the start, from now or after a
   * position, filtered by kind, type and stream; back-pressure through `onEvent` (projections/streams).
   */
  events$(filter?: LifecycleFilterInput, options?: DeliveryOptions<LifecycleEvent>): Observable<LifecycleEvent>;
  readonly store: EventStore;
  readonly clock: Clock;
}

/** Fills in a command id when the caller gave none, before parsing, so every stored event has one. */
const withCommandId = (input: unknown): unknown => {
  if (typeof input !== 'object' || input === null) return input;
  const metadata = (input as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null || 'commandId' in metadata) return input;
  return { ...input, metadata: { ...metadata, commandId: randomCommandId() } };
};

export const createEngine = (options: EngineOptions): Engine => {
  const { store, clock } = options;
  const maxRetries = options.maxRetries ?? 5;
  const cache = new EntityCache(store, options.cacheSize ?? 50_000);
  const systemActors = new Set<string>(options.systemActors ?? SYSTEM_ACTOR_IDS);

  const factsFor = async (event: Parameters<typeof factSourcesOf>[0], context: unknown): Promise<Facts> => {
    const facts: Facts = {};
    for (const [name, source] of Object.entries(factSourcesOf(event, context))) {
      const other = await cache.load(source.kind, source.id);
      facts[name as FactName] = other.revision === undefined ? undefined : viewOf(other.snapshot);
    }
    return facts;
  };

  const outcomeOf = (entity: LoadedEntity, commandId: string, events: readonly RecordedEvent[], deduplicated: boolean) => ({
    commandId,
    streamId: entity.streamId,
    state: stateOf(entity.snapshot),
    events,
    deduplicated,
  });

  /**
   * The first outcome of a command id seen before: only when it was the same command (type and data). An id
   * reused for something else is the caller's mistake and is refused, never reported as a success.
   */
  const replayedOutcome = (command: Command, entity: LoadedEntity, seen: readonly DecodedEvent[]): CommandOutcome => {
    const same =
      seen.length > 0 &&
      seen[0]!.metadata.commandType === command.type &&
      canonicalJson(seen[0]!.event.data) === canonicalJson(command.data);
    if (!same) {
      throw validationError(
        [{ path: 'metadata.commandId', rule: 'idempotency', message: `${command.metadata.commandId} was already used for a different command` }],
        'command',
      );
    }
    return outcomeOf(entity, command.metadata.commandId, seen.map((e) => e.record as RecordedEvent), true);
  };

  /**
   * One decision. On the first attempt the target entity may come from the cache without a read: if another
   * writer appended meanwhile, the expected revision fails, the cache entry is dropped and the retry reads.
   * Other entities (guard facts) are always read fresh: no expected revision protects them.
   */
  const attempt = async (command: Command, retry: number): Promise<CommandOutcome> => {
    const { kind, id } = targetOf(command);
    const commandId = command.metadata.commandId;
    const entity = await cache.load(kind, id, retry === 0);

    const seen = entity.events.filter((e) => e.metadata.commandId === commandId);
    if (seen.length > 0) return replayedOutcome(command, entity, seen);

    const now = clock.now();
    let snapshot = entity.snapshot;
    const candidates = decide(command);
    for (const event of candidates) {
      const facts = await factsFor(event, snapshot.context);
      const verdict = evaluate(kind, snapshot, { ...event, at: now.getTime(), facts });
      if (!verdict.ok) {
        // Decided on a cached entity without a read: make sure the refusal is not about a state that moved on.
        if (retry === 0 && (await cache.load(kind, id)).revision !== entity.revision) {
          throw concurrencyConflict(entity.streamId, 'the cached revision', 'a newer one');
        }
        throw refusalError(kind, entity.streamId, entity.revision !== undefined, event.type, verdict);
      }
      snapshot = verdict.snapshot;
    }

    const metadata: EventMetadata = {
      schemaVersion: 1,
      actor: command.metadata.actor,
      commandId,
      commandType: command.type,
      correlationId: command.metadata.correlationId ?? commandId,
      causationId: command.metadata.causationId ?? commandId,
      occurredAt: now.toISOString(),
      ...(command.metadata.signature !== undefined ? { signature: command.metadata.signature } : {}),
    };
    const toAppend: EventToAppend[] = candidates.map((event, index) => ({
      id: eventIdFor(commandId, index),
      type: event.type,
      data: event.data as EventToAppend['data'],
      metadata: { ...metadata, schemaVersion: currentVersionOf(event.type) } as unknown as EventToAppend['metadata'],
    }));
    const result = await store.appendToStream(entity.streamId, toAppend, {
      expectedRevision: ExpectedRevision.after(entity.revision),
      commandId,
    });
    if (result.deduplicated) {
      // Another writer (or this one, before a cache eviction) recorded this command first: return its outcome.
      // When the command id was first used on another stream (or for another command), replayedOutcome refuses it.
      const fresh = await cache.load(kind, id);
      return replayedOutcome(command, fresh, fresh.events.filter((e) => e.metadata.commandId === commandId));
    }
    // A single event's position is the append's position; several may have gaps (EventStoreDB): re-read those.
    const [only] = toAppend;
    if (toAppend.length === 1 && only !== undefined) {
      const recorded: RecordedEvent = { ...only, streamId: entity.streamId, revision: result.nextExpectedRevision, position: result.position };
      const next = applyStored(entity, [recorded]);
      cache.remember(next);
      return outcomeOf(next, commandId, [recorded], false);
    }
    const next = await cache.load(kind, id);
    const recorded = next.events
      .filter((e) => e.metadata.commandId === commandId)
      .map((e) => e.record as RecordedEvent);
    return outcomeOf(next, commandId, recorded, false);
  };

  const run = async (input: unknown, asSystem: boolean): Promise<CommandOutcome> => {
    const command = parseCommand(withCommandId(input));
    const { roles } = COMMAND_CATALOG[command.type];
    const { actor } = command.metadata;
    if (!(roles as readonly string[]).includes(actor.role)) {
      throw unauthorised(actor.id, `role ${actor.role} may not ${command.type}`);
    }
    // Input from outside can claim any role; only in-process system actors, through executeAsSystem, hold this one.
    if ((actor.role === 'system') !== asSystem || (asSystem && !systemActors.has(actor.id))) {
      throw unauthorised(actor.id, 'the system role is reserved to the engine\'s own process manager, scheduler and pseudonym rotation');
    }
    await options.verifyRequest?.(command);
    for (let retry = 0; ; retry++) {
      try {
        return await attempt(command, retry);
      } catch (error) {
        if (!isCredenceError(error, 'concurrency_conflict') || retry >= maxRetries) throw error;
        const { kind, id } = targetOf(command);
        cache.forget(streamIdOf(kind, id));
      }
    }
  };

  return {
    execute: (input) => run(input, false),
    executeAsSystem: (input) => run(input, true),
    entity: (kind, id) => cache.load(kind, id),
    events$: (filter, deliveryOptions) => lifecycleEvents$(store, filter, deliveryOptions),
    store,
    clock,
  };
};
