import type Database from 'better-sqlite3';
import { isCommandIdReused, isCredenceError } from '../../domain/errors.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { streamIdOf, type EntityKind } from '../../domain/streams.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import { ownOrTaken, recordedBy } from '../runtime/index.ts';
import { commandKey, type BatchFacts } from './batch-facts.ts';
import { deadLetter, endedAlready, type CascadeLog } from './cascade-log.ts';
import { endingOf } from './endings.ts';
import { commandIdOf, ownSender, PROCESS_MANAGER_ACTOR, targetKind, targetOf } from './own-commands.ts';
import type { Reaction } from './reaction.ts';

/** The states an entity the cascade targets ends in (credential, association, node, App-ID alike). */
const ENDED: ReadonlySet<string> = new Set(['revoked', 'expired']);

/**
 * The cascade's commands a machine still takes once its target has ended: a credential's revocation, as a raise to
 * keyCompromise. Every other ended state is final and refuses whatever the cascade sends (its reactions to nodes,
 * associations and App-IDs, their bookkeeping included), so for those the engine's refusal is the answer.
 */
const TAKEN_ONCE_ENDED: ReadonlySet<string> = new Set(['revokeCredential']);

/**
 * One reaction to `e`, unless its effect already holds or it can have none: the target ended before `e` or later
 * in this batch (revoked and expired are final states, whose machines accept no command at all), or the cascade
 * recorded the command under its derived id (a rebuild, a resumed catch-up: its event is in this batch, or the
 * store's command index has it). Otherwise the engine decides it, as before: nothing is ever written that a machine
 * has not judged. A reaction with an `otherwise` has it issued when its machine refuses it, and counts as done when
 * either is recorded (a rebuild may choose the other one of the two on entities that moved since).
 *
 * One ended state takes a command still: a revoked credential takes a second revocation as keyCompromise, as a raise
 * (`raisesToKeyCompromise`), and the cascade raises nothing (docs/pki.md). So a credential's revocation is issued only
 * if the credential stands as the engine sees it now, whatever the read model or the batch has reached (the batch's
 * own reactions are appended past the events it holds). Judged by those alone, a credential the cascade had just
 * revoked for its node's supersession was revoked again, so raised, by its App-ID's keyCompromise when both events
 * were in one batch, and not when the cascade caught up between them (review 234).
 *
 * Recorded counts only as the cascade's own: its actor and this command type. A derived id can be worked out before
 * its reaction runs, so another command may hold it (an operator's, stored before admission reserved derived ids);
 * taken as done, it made the cascade skip a credential of a revoked node (found in review; RS-16, HLR-212, seed 003
 * 11.2.2). The engine refuses the reaction under a taken id, and it is dead-lettered for an operator, never dropped.
 *
 * `letter` writes a dead letter: a reaction left in flight passes one that refuses to write (ReactionInTurn), and its
 * event is handled again in its turn (process-manager.ts).
 */
export const issue = async (
  engine: CommandSink,
  db: Database.Database,
  log: CascadeLog,
  batch: BatchFacts,
  e: DecodedEvent,
  reaction: Reaction,
  letter: typeof deadLetter = deadLetter,
): Promise<void> => {
  const command = reaction.type;
  const target = targetOf(reaction);
  const kind = targetKind(command);
  const streamId = streamIdOf(kind, target);
  const ending = endingOf(db, streamId);
  if (ending !== undefined) return log(endedAlready(command, target, ending, e.record.id));
  const choices = reaction.otherwise === undefined ? [reaction] : [reaction, reaction.otherwise];
  for (const choice of choices) {
    const commandId = commandIdOf(choice, e);
    if (batch.commands.has(commandKey(streamId, commandId, choice.type))) return log({ outcome: 'duplicate', command: choice.type, target });
    if (await recordedBy(engine, kind, target, commandId, ownSender(choice.type))) return log({ outcome: 'duplicate', command: choice.type, target });
  }
  // Ended later in the log, by an event this batch holds: its machine is in a final state now, so the engine would
  // refuse the command, unless the target's history is broken, where it records a dead letter. Its load says which,
  // so a batch leaves the dead letters that one event at a time (and the live run) leaves.
  if (batch.endings.has(streamId)) {
    try {
      await engine.view(kind, target);
    } catch (error) {
      if (error instanceof BrokenHistoryError) return letter(db, log, e, command, target, error);
      throw error;
    }
    return log({ outcome: 'skipped', command, target, reason: `${target} has ended already` });
  }
  if (TAKEN_ONCE_ENDED.has(command)) {
    let now;
    try {
      now = await engine.view(kind, target);
    } catch (error) {
      if (error instanceof BrokenHistoryError) return letter(db, log, e, command, target, error);
      throw error;
    }
    if (ENDED.has(now.state)) return log({ outcome: 'skipped', command, target, reason: `${target} has ended already (${now.state})` });
    // A window stays: a revocation by someone else (an operator, the scheduler's supersession) recorded between this
    // view and the cascade's own has the cascade's keyCompromise taken as a raise. Nothing lets the cascade make its
    // command depend on this view (executeAsSystem takes no ExecuteOptions, and the machine takes a raise from anyone):
    // docs/pki.md says so ("Raising a revocation's reason to keyCompromise").
  }
  for (const choice of choices) {
    try {
      const outcome = await engine.executeAsSystem({
        type: choice.type,
        data: choice.data,
        metadata: { commandId: commandIdOf(choice, e), actor: PROCESS_MANAGER_ACTOR, correlationId: e.metadata.correlationId, causationId: e.record.id },
      });
      return log({ outcome: outcome.deduplicated ? 'duplicate' : 'issued', command: choice.type, target });
    } catch (error) {
      if (isCredenceError(error, 'illegal_transition') || isCredenceError(error, 'not_found')) {
        if (choice === choices.at(-1) && (await liveAfterItsRevocation(engine, choice, kind, target))) return letter(db, log, e, choice.type, target, error);
        log({ outcome: 'skipped', command: choice.type, target, reason: error.message });
      } else if (isCommandIdReused(error)) {
        // Done before under this id by the cascade, with data read from parents that have moved on since (a rebuild).
        // Anyone else's command under it (or one on another stream) leaves the reaction undone: it can never be
        // recorded under its id, so it waits for an operator. Without the command index whose it is cannot be told.
        const verdict = await ownOrTaken(engine, { kind, id: target }, commandIdOf(choice, e), ownSender(choice.type), error as Error);
        if (verdict === 'own') return log({ outcome: 'duplicate', command: choice.type, target });
        return letter(db, log, e, choice.type, target, new Error(verdict.message));
      } else if (error instanceof BrokenHistoryError) {
        return letter(db, log, e, choice.type, target, error);
      } else {
        // A conflict past the engine's retries or an I/O error: the checkpoint stays, the next run retries.
        throw error;
      }
    }
  }
};

/**
 * A credential the cascade revokes (its holder or its CSE-ID is gone) and whose machine refused the revocation while
 * it stands: skipped, it would stay live under its ended holder with no one told (review 121: a reason its machine
 * refused for a rotation in progress). Only an ended credential is skipped; anything else waits for an operator as a
 * dead letter (`credence_cascade_dead_letters`). An association's revocation may be refused on purpose (its node came
 * back to its CSE-ID: under-another-cse.ts), so this holds for credentials alone.
 */
const liveAfterItsRevocation = async (engine: CommandSink, reaction: Reaction, kind: EntityKind, target: string): Promise<boolean> => {
  if (reaction.type !== 'revokeCredential') return false;
  const { state } = await engine.view(kind, target);
  return !ENDED.has(state) && state !== 'absent';
};
