import type { DomainEvent } from '../events/index.ts';
import { COMMAND_CATALOG } from './catalog.ts';
import type { Command } from './command.ts';

/**
 * The candidate facts a command would record. Pure; whether they are legal is the machine's decision, not this
 * function's: the pipeline runs every candidate through the entity's machine before anything is appended.
 */
export const decide = (command: Command): DomainEvent[] =>
  [{ type: COMMAND_CATALOG[command.type].event, data: command.data } as DomainEvent];
