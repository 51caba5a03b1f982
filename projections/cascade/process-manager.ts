import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import type { Projection } from '../runtime/index.ts';
import { commandKey, sentByCascade, type BatchFacts } from './batch-facts.ts';
import { BOOKKEEPING_COMMAND_TYPES, BOOKKEEPING_EVENT_TYPES } from './bookkeeping.ts';
import { deadLetter, LOOKUP, type CascadeLog } from './cascade-log.ts';
import { issue } from './issue.ts';
import { targetOf } from './own-commands.ts';
import { reactionsWith } from './lookups.ts';
import { isUnresolved, type Outcome, type Reaction } from './reaction.ts';
import { CASCADE_EVENT_TYPES } from './reactions.ts';
import { ENDINGS, applyToReadModel, resetReadModel, setupReadModel } from './read-model.ts';

/**
 * The process manager: a projection whose reactions are commands. Each command's id is derived from the
 * causing event's id, so running it twice (or resuming after a crash before the checkpoint) changes nothing.
 * Commands the target's machine refuses (already revoked, say) are skipped: the goal state already holds.
 */
export const cascadeProcessManager = (engine: CommandSink, log: CascadeLog = () => {}): Projection => {
  let db: Database.Database | undefined;
  let batch: BatchFacts = { commands: new Set(), endings: new Set() };
  const reactionsToEvent = reactionsWith(engine, () => {
    if (db === undefined) throw new Error('cascade process manager used before setup');
    return db;
  });
  return {
    name: 'cascade',
    // The bookkeeping events too: nothing follows from them, but a batch that holds them tells `prepare` which
    // reactions are recorded already.
    eventTypes: [...CASCADE_EVENT_TYPES, ...BOOKKEEPING_EVENT_TYPES],
    async prepare(events) {
      batch = {
        commands: new Set(events.flatMap((e) => (sentByCascade(e) ? [commandKey(e.record.streamId, e.metadata.commandId, e.metadata.commandType)] : []))),
        endings: new Set(events.flatMap((e) => (ENDINGS.has(e.event.type) ? [e.record.streamId] : []))),
      };
    },
    setup(d) {
      db = d;
      setupReadModel(d);
    },
    reset(d) {
      resetReadModel(d);
    },
    apply(d, e) {
      applyToReadModel(d, e);
    },
    async react(e: DecodedEvent) {
      const d = db;
      if (d === undefined) throw new Error('cascade process manager used before setup');
      let reactions: readonly Outcome[];
      try {
        reactions = await reactionsToEvent(e);
      } catch (error) {
        // A lookup outside any one dependent's (the event's own entity): nothing of the event can be worked out.
        if (!(error instanceof BrokenHistoryError)) throw error;
        return deadLetter(d, log, e, LOOKUP, error.streamId, error);
      }
      if (bookkeepingOnly(reactions)) return allIssued(reactions.map((reaction) => issue(engine, d, log, batch, e, reaction)));
      for (const reaction of reactions) {
        if (isUnresolved(reaction)) deadLetter(d, log, e, LOOKUP, reaction.unresolved.streamId, reaction.unresolved);
        else await issue(engine, d, log, batch, e, reaction);
      }
    },
  };
};

/**
 * An event's bookkeeping, one command per target (bookkeeping.ts): issued together, they share one group commit and
 * one sync where one after another took one each (the live runtime handles an association's in one wait, not two or
 * three: docs/performance.md, forty-seventh round). Any other reactions go one at a time, in order: a later one may
 * read what an earlier one decided (a credential revoked, then raised: review 234).
 */
const bookkeepingOnly = (reactions: readonly Outcome[]): reactions is readonly Reaction[] => {
  if (reactions.length < 2) return false;
  const targets = new Set<string>();
  for (const reaction of reactions) {
    if (isUnresolved(reaction) || !BOOKKEEPING_COMMAND_TYPES.has(reaction.type)) return false;
    targets.add(`${reaction.type}\n${targetOf(reaction)}`);
  }
  return targets.size === reactions.length;
};

/** Every issue settled before the event's savepoint is released or undone; the first failure, in order, surfaces. */
const allIssued = async (issued: readonly Promise<void>[]): Promise<void> => {
  const settled = await Promise.allSettled(issued);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
};
