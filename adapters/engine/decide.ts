import { decide as candidateEvents, newCommandRefusal, targetOf, type Command } from '../../domain/commands/index.ts';
import { canonicalJson } from '../../domain/crypto/index.ts';
import { keyHolderIn } from '../../domain/certified-keys.ts';
import { concurrencyConflict, isCredenceError, validationError, type CredenceError, type FieldIssue } from '../../domain/errors.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { DomainEvent } from '../../domain/events/index.ts';
import { isLowerCaseCommandId } from '../../domain/ids.ts';
import type { EventStore, FactRead } from '../../domain/ports/index.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import { evaluate, gatherFactsAsync, machineEvent, refusalError, viewOf, type EntitySnapshot } from '../../machines/index.ts';
import { bornExpired } from './born-expired.ts';
import { mayHaveCommand, type CachedEntity, type EntityCache } from './entity-cache.ts';
import { recordedAnywhere, recordedBy, type ReplayedEntity } from './idempotency.ts';
import { STARTING_COMMANDS } from './starting-commands.ts';

export type Decision =
  /**
   * The command id was recorded before: the events it recorded then (another stream's, when it went there; none when
   * the store binds it to a stream that holds none of its events) and the target entity as loaded.
   */
  | { readonly kind: 'seen'; readonly entity: ReplayedEntity; readonly seen: readonly DecodedEvent[] }
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
 * retry reads anything more. A retry is answered from the store's index of command ids (issue 15 item 5: catching
 * up the projections re-issues every reaction under its derived id) and the entity as loaded: its state after the
 * command is folded only when the stream has moved on since (idempotency.ts). Events stored without the idempotency
 * key (imported, seeded), or one the store cannot decode, take the long way: the whole stream, rebuilt, as before.
 */
const seenOn = async (
  store: EventStore,
  cache: EntityCache,
  entity: CachedEntity,
  commandId: string,
): Promise<{ entity: ReplayedEntity; seen: DecodedEvent[] } | undefined> => {
  if (!mayHaveCommand(entity, commandId)) return undefined;
  const recorded = await recordedBy(store, entity.streamId, commandId);
  if (recorded !== undefined) return { entity, seen: recorded };
  const full = await cache.loadFull(entity.kind, entity.id);
  const seen = full.events.filter((e) => e.metadata.commandId === commandId);
  return seen.length > 0 ? { entity: full, seen } : undefined;
};

/**
 * The events a signed command refused for its signature recorded on its target stream under its command id, when
 * they carry the very request signature it comes with (what the signature check verified when they were recorded),
 * with its entity; undefined otherwise. What the engine answers such a repeat with, whatever refused it now: its
 * lifetime over (review 102), or its key retired since, within the lifetime (review 182: refused, though recorded, and
 * a client that re-signed it under a new id recorded it twice). firstOutcome then holds actor, type and data to it as
 * for any repeat. The command id index is read first, and the entity loaded only on a match: a refused signature
 * fills no cache entry (review 104).
 */
export const recordedWithItsSignature = async (
  store: EventStore,
  cache: EntityCache,
  command: Command,
): Promise<{ entity: ReplayedEntity; seen: DecodedEvent[] } | undefined> => {
  const signature = command.metadata.signature;
  if (signature === undefined) return undefined;
  const { kind, id } = targetOf(command);
  const seen = await recordedBy(store, streamIdOf(kind, id), command.metadata.commandId);
  const stored = seen?.[0]?.metadata.signature;
  if (seen === undefined || stored === undefined || canonicalJson(stored) !== canonicalJson(signature)) return undefined;
  return { entity: await cache.load(kind, id), seen };
};

/** The refusals of a command's own content and target (its rules, its state, its facts), not of who sent it. */
const isRefusal = (error: unknown): boolean =>
  isCredenceError(error, 'validation') || isCredenceError(error, 'illegal_transition') || isCredenceError(error, 'not_found');

/** A fact as the decision read it: the stream and revision the append checks, and which entity it was. */
interface FactReadOf extends FactRead {
  readonly kind: EntityKind;
  readonly id: string;
}

/**
 * Whether anything the decision rests on has moved since it was read from the cache: the target or a fact stream
 * (re-read from the store now). A refusal decided on cached entries is only final when nothing has.
 */
const movedSince = async (cache: EntityCache, target: CachedEntity, facts: Iterable<FactReadOf>): Promise<string | undefined> => {
  if ((await cache.load(target.kind, target.id)).revision !== target.revision) return target.streamId;
  for (const fact of facts) if ((await cache.load(fact.kind, fact.id)).revision !== fact.revision) return fact.streamId;
  return undefined;
};

/**
 * Steps 4 to 6: load the target entity, gather the facts its guards need (other entities), and decide with the
 * machine. On the first attempt the target (and the facts, on a store whose fact checks write nothing) may come from
 * the cache without a read: the engine runs one command per stream at a time and keeps every entity it appends to
 * current, so a cached entry is stale only when another process (or a writer bypassing the engine) appended. The append checks the target's expected
 * revision and every fact's revision inside its transaction, so a stale entry fails the append, never stores a
 * decision on it: the entry is dropped and the retry reads every stream. A refusal decided on cached entries is
 * checked against the store before it is returned, so staleness never refuses a command either.
 */
export const decideCommand = async (
  store: EventStore,
  cache: EntityCache,
  command: Command,
  at: Date,
  firstAttempt: boolean,
): Promise<Decision> => {
  const { kind, id } = targetOf(command);
  // A command that starts an entity assumes, on a first attempt and a cache miss, that its stream does not exist yet:
  // the append's expected revision proves it (issue 15: a pseudonym rotation's new stream, every registration). An id
  // not in lower case is never new (new-command-id.ts refuses it before any append could prove the guess wrong): only
  // a retry of what an earlier version recorded under it, so its target is read, and a recording there found as any
  // retry's is, on every store (review 193: on EventStoreDB an id recorded before claim streams has no claim to ask).
  const assumedNew = isLowerCaseCommandId(command.metadata.commandId) && firstAttempt && STARTING_COMMANDS.has(command.type);
  const entity = !isLowerCaseCommandId(command.metadata.commandId)
    ? await cache.load(kind, id)
    : assumedNew
      ? cache.cachedOrNew(kind, id)
      : await cache.load(kind, id, firstAttempt);
  if (mayHaveCommand(entity, command.metadata.commandId)) {
    const retried = await seenOn(store, cache, entity, command.metadata.commandId);
    if (retried !== undefined) return { kind: 'seen', entity: retried.entity, seen: retried.seen };
  }
  try {
    return await decideAnew(store, cache, command, entity, at, firstAttempt);
  } catch (error) {
    if (!isRefusal(error)) throw error;
    // The entity may have been assumed new without a read, or the id gone to another stream: a repeat is answered
    // as one, whatever the time now (a credential recorded while still valid) and whatever the target's state. A
    // store that cannot say where an id went is asked about the target's stream for a command born expired, as before.
    // An id bound to another stream with none of its events there (EventStoreDB: a refused attempt's claim) is refused
    // by recordedAnywhere by its own rule, `command_id_bound_by_refused_attempt`, not as reused (review 401).
    const { commandId } = command.metadata;
    const seen =
      store.commandStream !== undefined
        ? await recordedAnywhere(store, entity.streamId, commandId)
        : bornExpired(command, at) !== undefined
          ? await recordedBy(store, entity.streamId, commandId)
          : undefined;
    if (seen !== undefined) return { kind: 'seen', entity, seen };
    // A target assumed new was never read, and the store's index may not know the id: on EventStoreDB one recorded
    // before claim streams has no claim (review 359, as review 193 for ids not in lower case), and events stored
    // without the idempotency key are in no index. Its stream is read now, on the refusal path only, and a recording
    // there found as any retry's is (a rule new commands obey, refusing it, no longer hides its first outcome).
    if (assumedNew) {
      const read = await cache.load(kind, id);
      const retried = await seenOn(store, cache, read, commandId);
      if (retried !== undefined) return { kind: 'seen', entity: retried.entity, seen: retried.seen };
    }
    throw error;
  }
};

const issuesOf = (error: CredenceError | undefined): readonly FieldIssue[] => (error?.problem.code === 'validation' ? error.problem.issues : []);

/**
 * The refusal of a command born expired, naming too every rule given new commands it breaks (candidateEvents would judge
 * them after), its id in lower case included (newCommandRefusal, review 353): a subscription both expired and with a
 * control character in its subscriber named only its notAfter, and its resend the subscriber (review 348: a refusal
 * names every field). Those rules' issues first, as the schema's are.
 */
const withNewCommandIssues = (command: Command, expired: CredenceError): CredenceError => {
  const rules = newCommandRefusal(command);
  return rules === undefined ? expired : validationError([...issuesOf(rules), ...issuesOf(expired)], 'command');
};

/** Steps 5 and 6 for a command not recorded on its stream: the facts its guards need, and the machine's verdict. */
const decideAnew = async (
  store: EventStore,
  cache: EntityCache,
  command: Command,
  entity: CachedEntity,
  at: Date,
  firstAttempt: boolean,
): Promise<Decision> => {
  const { kind, id } = entity;
  const expired = bornExpired(command, at);
  if (expired !== undefined) throw withNewCommandIssues(command, expired);

  let snapshot = entity.snapshot;
  const events = candidateEvents(command);
  const read = new Map<string, FactReadOf>();
  for (const event of events) {
    const facts = await gatherFactsAsync(event, snapshot.context, async (k, i, field) => {
      // An entity is never its own fact (a predecessor or a successor naming the credential itself): refused as such,
      // naming the field that named it, before the store would refuse the append untyped. Command data is its event's
      // data, so the event's field is the command's; a fact read from the entity's state names none.
      if (k === kind && i === id) {
        const path = field === undefined ? 'data' : `data.${field}`;
        throw validationError(
          [{ path, rule: 'another_entity', message: `names ${entity.streamId} itself where another ${k} is meant` }],
          `${command.type} command`,
        );
      }
      const other = await cache.load(k, i, firstAttempt && store.factChecksWriteNothing === true);
      // The first read of a stream is what the decision rests on; a later, newer read only makes the check fail.
      if (!read.has(other.streamId)) read.set(other.streamId, { streamId: other.streamId, revision: other.revision, kind: k, id: i });
      return other.exists ? viewOf(other.snapshot) : undefined;
    }, keyHolderIn(store)); // SER-010: the credential the store's index says certified the key (one read; the append binds it).
    const verdict = evaluate(kind, snapshot, machineEvent(event, at.getTime(), facts));
    if (!verdict.ok) {
      // Decided on cached entries without a read: make sure the refusal is not about a state that moved on.
      const moved = firstAttempt ? await movedSince(cache, entity, read.values()) : undefined;
      if (moved !== undefined) throw concurrencyConflict(moved, 'the cached revision', 'a newer one');
      throw refusalError(kind, entity.streamId, entity.exists, event.type, verdict);
    }
    snapshot = verdict.snapshot;
  }
  const factReads: FactRead[] = [];
  for (const { streamId, revision } of read.values()) factReads.push({ streamId, revision });
  return { kind: 'append', entity, events, facts: factReads, snapshot };
};
