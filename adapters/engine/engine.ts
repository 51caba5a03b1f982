import { eventOfCommandType, targetOf, type Command } from '../../domain/commands/index.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { SYSTEM_ACTOR_IDS, type RecordedToken } from '../../domain/metadata.ts';
import { sentBy, type Clock, type CommandOutcome, type CommandSender, type CommandSink, type EventStore, type ExecuteOptions } from '../../domain/ports/index.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { viewOf, type LoadedEntity } from '../../machines/index.ts';
import { authorise, parse, reserveDerivedCommandIds, verifyRequestSignature, type AdmissionStep } from './admission.ts';
import { decideCommand, recordedWithItsSignature } from './decide.ts';
import { DEFAULT_CACHE_BYTES, EntityCache, type EntityCacheStats } from './entity-cache.ts';
import { firstOutcome } from './idempotency.ts';
import { PEEK_MEMO_SHARE, PeekMemo, type PeekedEntity } from './peek-memo.ts';
import { appendDecision } from './record.ts';
import { StreamLanes } from './stream-lanes.ts';

export interface EngineOptions {
  readonly store: EventStore;
  readonly clock: Clock;
  /**
   * How many times a command is re-read and re-decided after concurrent writers conflicted with it. The first attempt
   * may decide on cached entries (or, for a command that starts an entity, on the guess that its stream is new): its
   * conflict says the cache was behind, not that writers contend, so the re-read that follows is not counted.
   */
  readonly maxRetries?: number;
  /**
   * Bytes of entity snapshots kept in memory between commands (estimated; least recently used go first).
   * Default 64 MiB; 0 keeps none (every decision reads its entity's whole stream). A device hello's lookups keep half
   * as much again apart (peek-memo.ts).
   */
  readonly cacheMaxBytes?: number;
  /** Actor ids allowed to act with the `system` role. Default: the built-in process manager, scheduler and rotation. */
  readonly systemActors?: readonly string[];
  /**
   * Checks the actor's request signature before deciding (non-repudiation, SER-016), at the engine clock's instant
   * the command is decided at (`now`); throws a typed error.
   */
  readonly verifyRequest?: (command: Command, at: { readonly now: Date }) => Promise<void> | void;
  /**
   * Further admission checks the composition root adds, after the request signature (each throws a typed error;
   * nothing is read or written before they pass): a value only an adapter can check, such as the pseudonym a
   * rotation records being the one the pseudonym key derives.
   */
  readonly checks?: readonly AdmissionStep[];
}

export interface Engine extends CommandSink {
  /**
   * Parse -> authorise -> verify the request signature -> load -> gather facts -> decide (machine guards) ->
   * append with the expected revision; load to append again on a conflict.
   * For commands from outside: the `system` role is never accepted here, whatever the input claims, nor a derived
   * (version 8) command id, which only the engine's own reactions carry, nor the infrastructure's actor id
   * (executeAsInfrastructure). `options.admit` is the caller's own check, run in the command's stream lane right
   * before each decision; `options.token`, the token it came with, is recorded with its events (ExecuteOptions).
   */
  execute(input: unknown, options?: ExecuteOptions): Promise<CommandOutcome>;
  /**
   * The same pipeline for the engine's own system actors (process manager, expiry scheduler, pseudonym rotation):
   * in-process code holding the engine, never input from an interface. The actor must be a configured system actor.
   */
  executeAsSystem(input: unknown): Promise<CommandOutcome>;
  /**
   * The same pipeline as `execute` for the security procedures (the Enrolment Function and the Registrar CSE,
   * adapters/protocols/procedures): in-process code, never input from an interface. It may claim one thing `execute`
   * refuses, the infrastructure's actor (`maf:infrastructure` as `operator`, domain/signing/policy.ts), which no
   * request-signing policy requires a signature of; every other rule of `execute` holds.
   */
  executeAsInfrastructure(input: unknown): Promise<CommandOutcome>;
  /**
   * Whether the entity's stream holds a command under this id (the store's index of command ids, nothing decided);
   * with `by`, only a command `by` sent counts (its actor, id and role, and command type), recorded as the event its
   * command type records (catalog.ts eventOfCommandType; review 234: a ghost CredentialAssociated planted as the
   * cascade's revokeCredential passed for its revocation done). A process manager asks with its own actor and command:
   * an id recorded by anyone else, or for another command, is not its reaction done.
   */
  recorded(kind: EntityKind, id: string, commandId: string, by?: CommandSender): Promise<boolean>;
  /** The entity as its machine sees it now, with its events and revision. */
  entity(kind: EntityKind, id: string): Promise<LoadedEntity>;
  /**
   * The same entity (its snapshot, revision and issue, not its history), read leaving no trace in the entity cache or
   * its published stats: for what an unauthenticated device hello looks up, which the public metrics must not tell a
   * stranger about. Kept apart, it costs one read of what was appended since its last lookup (peek-memo.ts).
   */
  peek(kind: EntityKind, id: string): Promise<PeekedEntity>;
  /** Reads these entities into the cache ahead of the commands about to read them, in one store read where the store can. */
  prefetch(kind: EntityKind, ids: readonly string[]): Promise<void>;
  /** The entity cache's size, bound and hit rate (service metrics). */
  cacheStats(): EntityCacheStats;
  readonly store: EventStore;
}

/** The command side: every command runs through the same named steps (admission.ts, decide.ts, record.ts). */
export const createEngine = (options: EngineOptions): Engine => {
  const { store, clock } = options;
  const maxRetries = options.maxRetries ?? 5;
  const cacheBytes = options.cacheMaxBytes ?? DEFAULT_CACHE_BYTES;
  const cache = new EntityCache(store, cacheBytes);
  const peeks = new PeekMemo(store, Math.floor(cacheBytes * PEEK_MEMO_SHARE));
  const lanes = new StreamLanes();
  const admission: readonly AdmissionStep[] = [
    authorise(new Set<string>(options.systemActors ?? SYSTEM_ACTOR_IDS)),
    reserveDerivedCommandIds,
    ...(options.verifyRequest !== undefined ? [verifyRequestSignature(options.verifyRequest)] : []),
    ...(options.checks ?? []),
  ];

  const attempt = async (command: Command, retry: number, at: Date, token: RecordedToken | undefined): Promise<CommandOutcome> => {
    const decision = await decideCommand(store, cache, command, at, retry === 0);
    if (decision.kind === 'seen') return firstOutcome(store, command, decision.entity, decision.seen);
    return appendDecision(store, cache, command, decision.entity, decision.events, decision.facts, decision.snapshot, at, token);
  };

  const run = async (
    input: unknown,
    sender: 'outside' | 'system' | 'infrastructure',
    options?: ExecuteOptions,
  ): Promise<CommandOutcome> => {
    const callerCheck = options?.admit;
    // Parsed as sent: the rules of new facts, an outside sender's correlation ids among them, are decide()'s, once the
    // command id is known not to be recorded (review 342: a retry of what an earlier version recorded was refused).
    const command = parse(input);
    const asSystem = sender === 'system';
    const asInfrastructure = sender === 'infrastructure';
    // Admitted at the instant it is decided and recorded at: a request signature valid when admitted is valid at
    // the event's occurredAt. A retry decides at a later instant, so the command is admitted again at that one.
    const admit = async (at: Date, signedAt?: Date): Promise<Date> => {
      const via = signedAt === undefined ? { asSystem, asInfrastructure, at } : { asSystem, asInfrastructure, at, signedAt };
      // A step that answers synchronously (authorise) is not awaited: a microtask per step per command saved.
      for (const step of admission) {
        const pending = step(command, via);
        if (pending !== undefined) await pending;
      }
      // Last, in the lane: the caller's standing is read as late as it can be before the decision (a token revoked
      // while the command waited behind others of its stream refuses it; found in review).
      if (callerCheck !== undefined) await callerCheck();
      return at;
    };
    const { kind, id } = targetOf(command);
    const streamId = streamIdOf(kind, id);
    // Parsed and authorised concurrently; decided and appended in the target stream's lane, one at a time per stream.
    return lanes.run(streamId, () => decideInLane(command, streamId, admit, options?.token));
  };

  const decideInLane = async (
    command: Command,
    streamId: string,
    admit: (at: Date, signedAt?: Date) => Promise<Date>,
    token: RecordedToken | undefined,
  ): Promise<CommandOutcome> => {
    let at: Date;
    try {
      at = await admit(clock.now());
    } catch (error) {
      // A signed command recorded before and sent again unchanged once its signature's lifetime is over, or within it
      // once its key was retired (review 182), its answer lost: answered as any repeat, with its first outcome, when the store holds that very signature and every
      // admission step passes again now with the signature judged at the instant it was recorded, so by the signing
      // policy of now (the key still registered; the tracing ids it signs unchanged) and every later check (review 102:
      // refused, the client re-signed it under a new id and recorded it twice; review 103: any signature failure, and
      // the checks after it skipped).
      if (!isCredenceError(error, 'bad_signature')) throw error;
      const repeat = await recordedWithItsSignature(store, cache, command);
      const recordedAt = repeat === undefined ? Number.NaN : Date.parse(String(repeat.seen[0]!.metadata.occurredAt));
      if (repeat === undefined || Number.isNaN(recordedAt)) throw error;
      try {
        await admit(clock.now(), new Date(recordedAt));
      } catch (again) {
        throw isCredenceError(again, 'bad_signature') ? error : again;
      }
      return firstOutcome(store, command, repeat.entity, repeat.seen);
    }
    for (let retry = 0; ; retry++) {
      try {
        return await attempt(command, retry, at, token);
      } catch (error) {
        if (!isCredenceError(error, 'concurrency_conflict') || retry > maxRetries) throw error;
        cache.forget(streamId);
        // A first conflict is usually a stale cached entity: re-read at once. Writers still contending after that (a
        // fact shared by many decisions, claimed on EventStoreDB) back off with jitter: up to 20, 40, 80, 160 and 320 ms
        // with the default maxRetries of 5, seven attempts in all (the first, the re-read, five retries).
        if (retry > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(10 * 2 ** retry, 500)));
        at = await admit(clock.now());
      }
    }
  };

  return {
    execute: (input, options) => run(input, 'outside', options),
    executeAsSystem: (input) => run(input, 'system'),
    executeAsInfrastructure: (input) => run(input, 'infrastructure'),
    entity: (kind, id) => cache.loadFull(kind, id),
    peek: (kind, id) => peeks.peek(kind, id),
    view: async (kind, id) => viewOf((await cache.load(kind, id)).snapshot),
    prefetch: (kind, ids) => cache.prefetch(kind, ids),
    recorded: async (kind, id, commandId, by) => {
      const [first] = await store.readCommand(streamIdOf(kind, id), commandId);
      return first !== undefined && (by === undefined || (sentBy(first.metadata, by) && first.type === eventOfCommandType(by.commandType)));
    },
    cacheStats: () => cache.stats(),
    store,
    clock,
  };
};
