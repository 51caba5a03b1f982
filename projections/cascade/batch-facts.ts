import { eventOfCommandType } from '../../domain/commands/index.ts';
import { sentBy } from '../../domain/ports/index.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { ownSender } from './own-commands.ts';

/**
 * What the stored events of the batch being handled say, whatever the read model has reached: which commands the
 * cascade recorded (stream, command id and type) and which streams have ended. Facts of the store, so true for
 * every event of the batch, earlier ones included.
 */
export interface BatchFacts {
  readonly commands: ReadonlySet<string>;
  readonly endings: ReadonlySet<string>;
}

/** A command recorded on a stream under an id, by the cascade, for one command type. */
export const commandKey = (streamId: string, commandId: string, commandType: string): string => `${streamId}\n${commandId}\n${commandType}`;

/**
 * Whether the cascade's own actor (id and role) recorded the event, as its command (the key holds the type) and as the
 * event that command type records (review 234: a ghost CredentialAssociated planted as its revokeCredential made a
 * batch holding it skip the revocation): what else is recorded under an id is not its reaction.
 */
export const sentByCascade = (e: DecodedEvent): boolean =>
  e.event.type === eventOfCommandType(e.metadata.commandType) && sentBy(e.metadata, ownSender(e.metadata.commandType));
