import type { DomainEvent } from '../events/index.ts';
import { COMMAND_CATALOG } from './catalog.ts';
import { newCommandRefusal, type Command } from './command.ts';
import { newCommandIdRefusal } from './new-command-id.ts';

/**
 * The candidate facts a command would record. Pure; whether they are legal is the machine's decision, not this
 * function's: the pipeline runs every candidate through the entity's machine before anything is appended. Only a
 * command not recorded before comes here (a retry is answered from the store first), so this is where a new command
 * must meet the rules of new facts, not of the commands that recorded old ones: its free text, capabilities and
 * revocation reason (command.ts newCommandRefusal, review 342), then its id in lower case (new-command-id.ts).
 */
export const decide = (command: Command): DomainEvent[] => {
  const refusal = newCommandRefusal(command) ?? newCommandIdRefusal(command.metadata.commandId);
  if (refusal !== undefined) throw refusal;
  return [{ type: COMMAND_CATALOG[command.type].event, data: command.data } as DomainEvent];
};
