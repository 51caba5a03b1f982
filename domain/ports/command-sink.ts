import type { Actor, RecordedToken } from '../metadata.ts';
import type { EntityKind, EntityView } from '../streams.ts';
import type { Clock } from './clock.ts';
import type { RecordedEvent } from './event-store.ts';

export interface CommandOutcome {
  /** The command id exactly as sent (an opaque key, letter case included: domain/ids.ts CommandId). */
  readonly commandId: string;
  readonly streamId: string;
  /**
   * State of the entity right after the command: a repeat's too, folded from the stream up to the command's last
   * event on every store, however far the entity has moved since (review 78).
   */
  readonly state: string;
  readonly events: readonly RecordedEvent[];
  /** True when the command id had been seen: nothing was appended and the first outcome is returned. */
  readonly deduplicated: boolean;
}

/**
 * What the process managers (cascade, expiry, pseudonym rotation) and the protocol procedures need of the command
 * side: run a command, read an entity as its machine sees it, and the time decisions are made at. The engine
 * implements it; nothing on the read side depends on the engine itself.
 */
/** Who sent a command: its actor (id and role) and its type, what a process manager knows its own reactions by. */
export interface CommandSender {
  readonly actor: Actor;
  readonly commandType: string;
}

/**
 * Whether `by` sent the command recorded with this stored metadata (its actor's id and role, its command type: the
 * same in every schema version, so no upcaster is needed for them).
 */
export const sentBy = (metadata: Readonly<Record<string, unknown>>, by: CommandSender): boolean => {
  const { actor, commandType } = metadata;
  if (typeof actor !== 'object' || actor === null || Array.isArray(actor)) return false;
  const { id, role } = actor as Readonly<Record<string, unknown>>;
  return id === by.actor.id && role === by.actor.role && commandType === by.commandType;
};

/**
 * What a caller adds to one command of its own. `admit`: a check of the caller's standing now (an interface's token
 * not revoked, say), run inside the command's stream lane after the engine's own admission and right before each
 * decision, a retry's too. A command waits in its lane behind the others of its stream, so a check the caller made
 * before sending it can be stale when it is decided. The check throws to refuse the command (its error reaches the
 * caller as thrown), and nothing is written.
 */
export interface ExecuteOptions {
  readonly admit?: () => void | Promise<void>;
  /**
   * The API token the command came with, as the interface that verified it knows it (review 188): recorded in the
   * metadata of every event the command appends, beside the actor. The caller's word, not the command's: a command
   * that names one itself is refused (domain/commands/command.ts).
   */
  readonly token?: RecordedToken;
}

export interface CommandSink {
  /** A command from outside (an operator, an auditor): the `system` role is refused whatever the input claims. */
  execute(input: unknown, options?: ExecuteOptions): Promise<CommandOutcome>;
  /** A command of the engine's own in-process actors (process manager, scheduler, rotation). */
  executeAsSystem(input: unknown): Promise<CommandOutcome>;
  /** The entity now: its state and machine context (`absent` when it has no events). */
  view(kind: EntityKind, id: string): Promise<EntityView>;
  /**
   * Optional: whether the entity's stream already holds a command with this id (the store's index of command ids,
   * nothing decided). A process manager re-running a reaction under its derived id learns it is done without
   * having it decided again (issue 15 item 5); without this method the reaction goes through `executeAsSystem`,
   * which deduplicates it. With `by`, only a command `by` sent counts: a process manager asks with its own actor and
   * command, since a command id recorded by anyone else, or for another command, is not its reaction done.
   */
  recorded?(kind: EntityKind, id: string, commandId: string, by?: CommandSender): Promise<boolean>;
  /**
   * Optional: reads these entities ahead of the commands about to decide on them (a rotation tick's node facts), in one
   * store read where the store can. Only a cache is warmed: every decision is still checked against the store when it
   * is appended, so an entity that moves after this read costs a retry, never a decision on a stale fact.
   */
  prefetch?(kind: EntityKind, ids: readonly string[]): Promise<void>;
  readonly clock: Clock;
}
