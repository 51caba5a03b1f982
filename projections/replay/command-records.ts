// The catalog alone, not the commands' index: replay workers load this, and the index builds every command's schema.
import { eventOfCommandType } from '../../domain/commands/catalog.ts';

/**
 * Why a stored event is not its command's record, or undefined when it is: a command records the one event type the
 * catalog gives it and nothing else (domain/commands/catalog.ts eventOfCommandType), so an event of another type under
 * its command type is one the engine could not have written. Found in review 234: a ghost CredentialAssociated planted
 * under the cascade's derived id, as its `revokeCredential`, passed for the cascade's revocation done, and replay said
 * nothing. A command type the catalog does not name (none ever left it) passes for no command of the engine's: its
 * event is judged by the machines alone, as before. Names types only, never an id: told to anyone who may see the finding.
 */
export const recordedByAnotherCommand = (eventType: string, commandType: string): string | undefined => {
  const recorded = eventOfCommandType(commandType);
  if (recorded === undefined || recorded === eventType) return undefined;
  return `${eventType} recorded under command type ${commandType}, which records ${recorded}: an event is recorded only by its own command`;
};

/**
 * Why a stored event whose command id an earlier record already holds is no record of its command (review 420): a
 * command is one event (domain/commands/decide.ts), appended once, its id bound to that append store-wide. Right after
 * its own stream's last append under the same id, the id is named, as before (adapters/http/routes/replay-findings-told.ts
 * tells it to whoever may see it); anywhere else the id is not named, nor the stream that recorded it first, which may
 * be a pseudonym's node: both replays word it alike (verifier.ts, entity.ts), by where they find it.
 */
export const commandRecordedAgain = (commandId: string, afterItsOwnAppend: boolean): string =>
  afterItsOwnAppend
    ? `command ${commandId} was recorded by an earlier append of this stream: a command is recorded once`
    : 'its command was recorded by an earlier append: a command is recorded once';
