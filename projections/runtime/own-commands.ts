import type { CommandSender, CommandSink } from '../../domain/ports/index.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';

/**
 * Whether `by` recorded `commandId` on the entity's stream (the store's command index, nothing decided). A process
 * manager's command under its derived id is done only when it recorded it there itself: a derived id can be worked out
 * before its command runs, so another command may hold it (an operator's, stored before admission reserved derived
 * ids). Itself means its actor and command type, and the event that command type records (the engine's `recorded`
 * holds the record to domain/commands/catalog.ts eventOfCommandType): a record of another type under them is no
 * command of its (review 234: a ghost CredentialAssociated planted as the cascade's revokeCredential made it skip a
 * credential of a node revoked keyCompromise). Without the command index (no `recorded`) nothing is counted done that
 * cannot be told.
 */
export const recordedBy = async (engine: Pick<CommandSink, 'recorded'>, kind: EntityKind, id: string, commandId: string, by: CommandSender): Promise<boolean> =>
  engine.recorded !== undefined && (await engine.recorded(kind, id, commandId, by));

/**
 * Why a process manager's command can never be recorded: its derived id is held on the stream by a command that is not
 * this one (another sender's, or its own for another command type). Retrying cannot help; an operator must.
 */
export interface CommandIdTaken {
  readonly code: 'command_id_taken';
  readonly streamId: string;
  readonly commandId: string;
  /** Names the id and the engine's refusal; never an event's data. */
  readonly message: string;
}

/**
 * What a refusal of `by`'s command for its reused id (`isCommandIdReused`) means: 'own' when `by` recorded the id on
 * the stream before (done, decided on entities that have moved since: a rebuild, a resumed catch-up), otherwise the id
 * is taken. The cascade and the expiry scheduler ask it, each with its own sender.
 */
export const ownOrTaken = async (
  engine: Pick<CommandSink, 'recorded'>,
  target: { readonly kind: EntityKind; readonly id: string },
  commandId: string,
  by: CommandSender,
  refusal: Error,
): Promise<'own' | CommandIdTaken> => {
  if (await recordedBy(engine, target.kind, target.id, commandId, by)) return 'own';
  return {
    code: 'command_id_taken',
    streamId: streamIdOf(target.kind, target.id),
    commandId,
    message: `its command id ${commandId} is taken by a command that is not this reaction: ${refusal.message}`,
  };
};
