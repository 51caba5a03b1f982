import type { Command } from '../../domain/commands/index.ts';
import { canonicalJson } from '../../domain/crypto/index.ts';
import { validationError } from '../../domain/errors.ts';
import type { CommandOutcome, RecordedEvent } from '../../domain/ports/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { stateOf, type LoadedEntity } from '../../machines/index.ts';

/** What an outcome of a repeated command reports of its entity: its stream and its state now. */
export type ReplayedEntity = Pick<LoadedEntity, 'streamId' | 'snapshot'>;

const reused = (commandId: string, how: string) =>
  validationError([{ path: 'metadata.commandId', rule: 'idempotency', message: `${commandId} was already used ${how}` }], 'command');

/**
 * The first outcome of a command id seen before: only when the same actor (id and role) sent the same command
 * (type and data). An id reused for something else, or by anyone else, is refused, never reported as a success.
 * The actor is compared first and its refusal says nothing more: whether the type and data matched would tell
 * another actor what the first command was, and who sent it is not theirs to learn.
 */
export const replayedOutcome = (command: Command, entity: ReplayedEntity, seen: readonly DecodedEvent[]): CommandOutcome => {
  const first = seen[0];
  const { commandId, actor } = command.metadata;
  if (first === undefined) throw reused(commandId, 'for a different command');
  if (first.metadata.actor.id !== actor.id || first.metadata.actor.role !== actor.role) throw reused(commandId, 'by another actor');
  if (first.metadata.commandType !== command.type || canonicalJson(first.event.data) !== canonicalJson(command.data)) {
    throw reused(commandId, 'for a different command');
  }
  return {
    commandId: command.metadata.commandId,
    streamId: entity.streamId,
    state: stateOf(entity.snapshot),
    events: seen.map((e) => e.record as RecordedEvent),
    deduplicated: true,
  };
};
