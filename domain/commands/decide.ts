import type { DomainEvent } from '../events/index.ts';
import { COMMAND_CATALOG } from './catalog.ts';
import { newCommandRefusal, type Command } from './command.ts';

/**
 * The candidate facts a command would record. Pure; whether they are legal is the machine's decision, not this
 * function's: the pipeline runs every candidate through the entity's machine before anything is appended. Only a
 * command not recorded before comes here (a retry is answered from the store first), so this is where a new command
 * must meet the rules of new facts, not of the commands that recorded old ones: its free text, capabilities and
 * revocation reason (review 342) and its id in lower case (new-command-id.ts), every one it breaks named at once
 * (command.ts newCommandRefusal, review 353).
 */
export const decide = (command: Command): DomainEvent[] => {
  const refusal = newCommandRefusal(command);
  if (refusal !== undefined) throw refusal;
  return [{ type: COMMAND_CATALOG[command.type].event, data: command.data } as DomainEvent];
};
