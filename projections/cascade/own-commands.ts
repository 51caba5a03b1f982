import { SYSTEM_ACTOR_IDS, type Actor } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { EntityKind } from '../../domain/streams.ts';
import { COMMAND_CATALOG, type CommandType } from '../../domain/commands/index.ts';
import { EVENT_KIND } from '../../domain/events/index.ts';
import type { CommandSender } from '../../domain/ports/index.ts';
import { derivedCommandId } from '../../domain/event-ids.ts';
import type { Reaction } from './reaction.ts';

export const PROCESS_MANAGER_ACTOR: Actor = { id: SYSTEM_ACTOR_IDS[0], role: 'system' };

/** A reaction's target is the id its data names first; its command id derives from the type, target and cause. */
export const targetOf = (reaction: Reaction): string => Object.values(reaction.data)[0] as string;
export const commandIdOf = (reaction: Reaction, e: DecodedEvent): string => derivedCommandId(`cascade:${reaction.type}:${targetOf(reaction)}`, e.record.id);

/** The cascade as the sender of a command of `commandType`: what its own reactions are known by. */
export const ownSender = (commandType: string): CommandSender => ({ actor: PROCESS_MANAGER_ACTOR, commandType });

export const targetKind = (type: string): EntityKind => EVENT_KIND[COMMAND_CATALOG[type as CommandType].event];
