import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import type { Projection } from '../runtime/index.ts';
import { commandKey, sentByCascade, type BatchFacts } from './batch-facts.ts';
import { BOOKKEEPING_EVENT_TYPES } from './bookkeeping.ts';
import { deadLetter, LOOKUP, type CascadeLog } from './cascade-log.ts';
import { issue } from './issue.ts';
import { reactionsWith } from './lookups.ts';
import { isUnresolved } from './reaction.ts';
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
      if (db === undefined) throw new Error('cascade process manager used before setup');
      let reactions;
      try {
        reactions = await reactionsToEvent(e);
      } catch (error) {
        // A lookup outside any one dependent's (the event's own entity): nothing of the event can be worked out.
        if (!(error instanceof BrokenHistoryError)) throw error;
        return deadLetter(db, log, e, LOOKUP, error.streamId, error);
      }
      for (const reaction of reactions) {
        if (isUnresolved(reaction)) deadLetter(db, log, e, LOOKUP, reaction.unresolved.streamId, reaction.unresolved);
        else await issue(engine, db, log, batch, e, reaction);
      }
    },
  };
};
