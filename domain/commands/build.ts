import type { Actor } from '../metadata.ts';
import type { CommandType, EventOfCommand } from './catalog.ts';
import type { EventData } from '../events/index.ts';

export interface CommandOptions {
  readonly actor: Actor;
  readonly commandId?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
}

/** A command as plain input for `engine.execute` (which parses it); typed so callers get the data shape right. */
export const command = <C extends CommandType>(type: C, data: EventData<EventOfCommand<C>> | Record<string, unknown>, options: CommandOptions) => ({
  type,
  data,
  metadata: {
    actor: options.actor,
    ...(options.commandId !== undefined ? { commandId: options.commandId } : {}),
    ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
    ...(options.causationId !== undefined ? { causationId: options.causationId } : {}),
  },
});
