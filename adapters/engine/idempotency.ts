import type { Command } from '../../domain/commands/index.ts';
import { canonicalJson } from '../../domain/crypto/index.ts';
import { validationError } from '../../domain/errors.ts';
import type { CommandOutcome, RecordedEvent } from '../../domain/ports/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { stateOf, type LoadedEntity } from '../../machines/index.ts';

/**
 * The first outcome of a command id seen before: only when it was the same command (type and data). An id
 * reused for something else is the caller's mistake and is refused, never reported as a success.
 */
export const replayedOutcome = (command: Command, entity: LoadedEntity, seen: readonly DecodedEvent[]): CommandOutcome => {
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
  return {
    commandId: command.metadata.commandId,
    streamId: entity.streamId,
    state: stateOf(entity.snapshot),
    events: seen.map((e) => e.record as RecordedEvent),
    deduplicated: true,
  };
};
