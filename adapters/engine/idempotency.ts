import { eventOfCommandType, type Command } from '../../domain/commands/index.ts';
import { canonicalJson } from '../../domain/crypto/index.ts';
import { validationError } from '../../domain/errors.ts';
import type { CommandOutcome, EventStore, RecordedEvent } from '../../domain/ports/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { applyStored, emptyEntity, readStored, stateOf, type EntitySnapshot, type LoadedEntity } from '../../machines/index.ts';

/**
 * The entity a repeated command's outcome is answered for: its target, as loaded (its snapshot at `revision`). The
 * state answered is the one right after the command's last event, folded from the stream when it has moved on.
 */
export type ReplayedEntity = Pick<LoadedEntity, 'kind' | 'id' | 'streamId' | 'snapshot' | 'revision'>;

const reused = (commandId: string, how: string) =>
  validationError([{ path: 'metadata.commandId', rule: 'idempotency', message: `${commandId} was already used ${how}` }], 'command');

/**
 * An id bound to another stream that holds none of its events (review 401): on EventStoreDB an append binds the id
 * (its claim, `credence-command-<id>`) before its events, and a command refused after that (its events' append
 * conflicted, the retry refused) leaves it bound with nothing recorded. No command was recorded under it, so it is
 * not refused as reused; it cannot be recorded elsewhere either, and the sender is told to use a new id. The stream
 * is not named, as a reuse's refusal names none: the id may not be this sender's.
 *
 * Review 413: a claim whose events are still being written (another sender's command, concurrent) reads the same, so
 * the refusal says both, and nothing more: it said the id was bound by an earlier attempt that recorded nothing, which
 * was false then, and it is thrown before the actor comparison a reuse's refusal keeps (assertSameCommand), so it told
 * another actor that the owner's command was refused. The claim records no actor (only its stream), so the actor
 * cannot be compared first: the words are what keeps it, true whoever sent the command and whichever it was.
 */
const boundByRefusedAttempt = (commandId: string) =>
  validationError(
    [
      {
        path: 'metadata.commandId',
        rule: 'command_id_bound_by_refused_attempt',
        message:
          `${commandId} is bound to a command on another entity that has recorded nothing yet (refused, or still being written): ` +
          'send this command under a new commandId',
      },
    ],
    'command',
  );

/** The records decoded; undefined when one is unreadable. */
const decoded = (records: readonly RecordedEvent[]): DecodedEvent[] | undefined => {
  const seen: DecodedEvent[] = [];
  for (const record of records) {
    const read = readStored(record);
    if (read.ok !== true) return undefined;
    seen.push(read.value);
  }
  return seen;
};

/** The command's own events as recorded, decoded; undefined when the store has none under its key or one is unreadable. */
export const recordedBy = async (store: EventStore, streamId: string, commandId: string): Promise<DecodedEvent[] | undefined> => {
  const records = await store.readCommand(streamId, commandId);
  return records.length === 0 ? undefined : decoded(records);
};

/**
 * The events of a command id the store holds on any stream (review 78), for a command about to be refused or whose
 * append found its id taken: a repeat is then answered as one (firstOutcome: the first outcome, or the id refused
 * as reused in the same words whatever the stream), never refused for its target's state. Answered for the target's
 * state, a reuse on an entity that does not exist read "does not exist" and one that would be accepted "already
 * used", and the reuse's words differed between the id's own stream and another: whoever reused an id learnt which
 * stream it had gone to. Asked only on those paths, so an accepted command costs no look-up. A store that cannot say
 * where an id went (no `commandStream`) is not asked: undefined, as before. An id bound to another stream that holds
 * none of its events (an EventStoreDB claim whose append was then refused, or is still being written) is refused here,
 * by its own rule (boundByRefusedAttempt, reviews 401 and 413): no command is recorded under it yet, so it is no reuse.
 */
export const recordedAnywhere = async (store: EventStore, targetStreamId: string, commandId: string): Promise<DecodedEvent[] | undefined> => {
  const streamId = await store.commandStream?.(commandId);
  if (streamId === undefined) return undefined;
  if (streamId === targetStreamId) return recordedBy(store, streamId, commandId);
  const records = await store.readCommand(streamId, commandId);
  if (records.length === 0) throw boundByRefusedAttempt(commandId);
  // Another stream's events that cannot be read are still another command's: the id is refused as reused all the same.
  return decoded(records) ?? [];
};

/**
 * The entity's snapshot right after the event at `revision`: the one loaded when it is at that revision (no read),
 * else its stream up to that event folded through its machine, as a load rebuilds it (machines are pure, so this is
 * the state the command left, whatever came after). Only a repeat of a command its stream has moved on from reads.
 */
const snapshotAt = async (store: EventStore, entity: ReplayedEntity, revision: bigint): Promise<EntitySnapshot> => {
  if (entity.revision === revision) return entity.snapshot;
  const records = await store.readStream(entity.streamId, { maxCount: Number(revision) + 1 });
  return applyStored(emptyEntity(entity.kind, entity.id), records.filter((r) => r.revision <= revision)).snapshot;
};

/**
 * Refuses a command id seen before unless the same actor (id and role) sent the same command (type and data) to the
 * same stream. An id reused for something else, or by anyone else, is refused, never reported as a success.
 * The actor is compared first and its refusal says nothing more: whether the type and data matched would tell
 * another actor what the first command was, and who sent it is not theirs to learn. `seen` may be another stream's
 * (recordedAnywhere): that is another command, refused in the same words as on the target's own stream, so the
 * refusal does not tell which stream the id went to either.
 */
const assertSameCommand = (command: Command, streamId: string, seen: readonly DecodedEvent[]): void => {
  const first = seen[0];
  const { commandId, actor } = command.metadata;
  if (first === undefined) throw reused(commandId, 'for a different command');
  if (first.metadata.actor.id !== actor.id || first.metadata.actor.role !== actor.role) throw reused(commandId, 'by another actor');
  // The event its type records, too (catalog.ts eventOfCommandType; review 234): another event under the command's type
  // and data (a release's data is its association's) is no outcome of it, and would pass for its repeat.
  if (
    first.record.streamId !== streamId ||
    first.metadata.commandType !== command.type ||
    first.event.type !== eventOfCommandType(command.type) ||
    canonicalJson(first.event.data) !== canonicalJson(command.data)
  ) {
    throw reused(commandId, 'for a different command');
  }
};

const outcomeOf = (command: Command, streamId: string, snapshot: EntitySnapshot, seen: readonly DecodedEvent[]): CommandOutcome => ({
  commandId: command.metadata.commandId,
  streamId,
  state: stateOf(snapshot),
  events: seen.map((e) => e.record as RecordedEvent),
  deduplicated: true,
});

/**
 * The outcome of a command id seen before, for an entity already at the command's last event (its snapshot is the
 * state answered); refused as assertSameCommand says.
 */
export const replayedOutcome = (command: Command, entity: Pick<ReplayedEntity, 'streamId' | 'snapshot'>, seen: readonly DecodedEvent[]): CommandOutcome => {
  assertSameCommand(command, entity.streamId, seen);
  return outcomeOf(command, entity.streamId, entity.snapshot, seen);
};

/**
 * The first outcome of a command id seen before, whatever its entity did since: the state is the one right after
 * the command's last event (CommandOutcome.state, docs/service.md "Idempotency"), folded from the stream only when
 * it has moved on (review 78: a retry answered the state now). Checked first, so a refused reuse reads nothing more.
 */
export const firstOutcome = async (store: EventStore, command: Command, entity: ReplayedEntity, seen: readonly DecodedEvent[]): Promise<CommandOutcome> => {
  assertSameCommand(command, entity.streamId, seen);
  return outcomeOf(command, entity.streamId, await snapshotAt(store, entity, seen.at(-1)!.record.revision), seen);
};
