import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { streamIdOf } from '../../domain/streams.ts';
import { BrokenHistoryError } from '../../machines/index.ts';
import { ReactionInTurn, type Projection, type ReactionInFlight } from '../runtime/index.ts';
import { commandKey, sentByCascade, type BatchFacts } from './batch-facts.ts';
import { BOOKKEEPING_COMMAND_TYPES, BOOKKEEPING_EVENT_TYPES } from './bookkeeping.ts';
import { BookkeepingInFlight } from './bookkeeping-in-flight.ts';
import { deadLetter, LOOKUP, type CascadeLog } from './cascade-log.ts';
import { issue } from './issue.ts';
import { targetKind, targetOf } from './own-commands.ts';
import { reactionsWith } from './lookups.ts';
import { isUnresolved, type Outcome, type Reaction } from './reaction.ts';
import { CASCADE_EVENT_TYPES } from './reactions.ts';
import { ENDINGS, applyToReadModel, resetReadModel, setupReadModel } from './read-model.ts';

/**
 * The process manager: a projection whose reactions are commands. Each command's id is derived from the
 * causing event's id, so running it twice (or resuming after a crash before the checkpoint) changes nothing.
 * Commands the target's machine refuses (already revoked, say) are skipped: the goal state already holds.
 */
export interface CascadeOptions {
  /**
   * The most of one event's reactions decided at once (MAX_REACTIONS_AT_ONCE unless said): 1 on a store that claims
   * the facts a decision read (EventStoreDB: `factChecksWriteNothing` unset, reactionsAtOnceFor). There every decision
   * reading one shared entity appends a claim at that stream's head, so a wave of them raced for it, one winning each
   * round: 300 node enrolments expired with their subscription took 254 s together against 24 s one at a time on the
   * stand-in (review 450).
   */
  readonly reactionsAtOnce?: number;
}

/** The reactions decided at once on `store`: many where deciding writes nothing to the facts it read, else one. */
export const reactionsAtOnceFor = (store: { readonly factChecksWriteNothing?: boolean }): number =>
  store.factChecksWriteNothing === true ? MAX_REACTIONS_AT_ONCE : 1;

export const cascadeProcessManager = (engine: CommandSink, log: CascadeLog = () => {}, options: CascadeOptions = {}): Projection => {
  const atOnce = Math.max(1, options.reactionsAtOnce ?? MAX_REACTIONS_AT_ONCE);
  let db: Database.Database | undefined;
  let batch: BatchFacts = { commands: new Set(), endings: new Set() };
  const inFlight = new BookkeepingInFlight();
  /** Events of the batch whose bookkeeping, left in flight, found it had a dead letter to write: reacted to in their turn. */
  const inTurn = new Set<string>();
  const reactionsToEvent = reactionsWith(inFlight.sink(engine), () => {
    if (db === undefined) throw new Error('cascade process manager used before setup');
    return db;
  });
  const inTurnLetter: typeof deadLetter = (_db, _log, e, command, target) => {
    inTurn.add(e.record.id);
    throw new ReactionInTurn(`the cascade's ${command} of ${target}, in reaction to ${e.event.type} at position ${e.record.position}, is a dead letter`);
  };
  /** One bookkeeping command left in flight, after the work queued on its target before it. */
  const queued = (d: Database.Database, e: DecodedEvent, reaction: Reaction): Promise<void> => {
    const streamId = streamIdOf(targetKind(reaction.type), targetOf(reaction));
    const after = inFlight.settledOn(streamId) ?? Promise.resolve();
    const work = issue(inFlight.sink(engine, after), d, log, batch, e, reaction, inTurnLetter);
    inFlight.queue(streamId, work);
    return work;
  };
  return {
    name: 'cascade',
    // The bookkeeping events too: nothing follows from them, but a batch that holds them tells `prepare` which
    // reactions are recorded already.
    eventTypes: [...CASCADE_EVENT_TYPES, ...BOOKKEEPING_EVENT_TYPES],
    async prepare(events) {
      // Kept for the whole batch: the runner may handle an event again (the events before a later one's failure), and
      // left in flight again it would meet its dead letter again, for ever (test/cascade.test.ts, the poisoned stream).
      inTurn.clear();
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
    async react(e: DecodedEvent): Promise<void | ReactionInFlight> {
      const d = db;
      if (d === undefined) throw new Error('cascade process manager used before setup');
      inFlight.reacting(e.record.position);
      let reactions: readonly Outcome[];
      try {
        // Its lookups wait for the bookkeeping in flight on each entity they read.
        reactions = await reactionsToEvent(e);
      } catch (error) {
        // A lookup outside any one dependent's (the event's own entity): nothing of the event can be worked out.
        if (!(error instanceof BrokenHistoryError)) throw error;
        return deadLetter(d, log, e, LOOKUP, error.streamId, error);
      }
      if (reactions.length === 0) return;
      if (bookkeepingOnly(reactions) && !inTurn.has(e.record.id)) return { settled: allIssued(reactions.map((reaction) => queued(d, e, reaction))) };
      // Any other reaction may read and decide on what the bookkeeping in flight changes: after all of it, in order.
      await inFlight.all();
      if (bookkeepingOnly(reactions)) return allIssued(reactions.map((reaction) => issue(engine, d, log, batch, e, reaction)));
      // In waves decided together (`Wave`): one at a time, a fan-out held readmodels.db's write lock a sync per command.
      const issueOne = (reaction: Reaction): Promise<void> => issue(engine, d, log, batch, e, reaction);
      const decide = (wave: Wave): Promise<void> => together(wave.reactions, issueOne, atOnce);
      let wave = new Wave();
      for (const reaction of reactions) {
        if (isUnresolved(reaction) || !wave.joins(reaction)) {
          await decide(wave);
          wave = new Wave();
        }
        if (isUnresolved(reaction)) deadLetter(d, log, e, LOOKUP, reaction.unresolved.streamId, reaction.unresolved);
        else wave.add(reaction);
      }
      await decide(wave);
    },
  };
};

/**
 * Whether an event's reactions are bookkeeping alone (bookkeeping.ts: one command per target, each reading only its
 * association). Those are left in flight (Projection.react): the live runtime goes on to the next event, and the
 * bookkeeping of a whole batch shares group commits, where one reaction at a time waited for one sync per command (two
 * or three per association established or ended; docs/performance.md, forty-seventh round). A later command or lookup
 * on one of their targets waits for them (bookkeeping-in-flight.ts); any other reaction waits for all of them and goes
 * in order, wave by wave (`Wave`): a later one may read what an earlier one decided (a credential revoked, then
 * raised: review 234).
 */
const bookkeepingOnly = (reactions: readonly Outcome[]): reactions is readonly Reaction[] => {
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

/**
 * The most of one event's reactions decided at once. One at a time, each waited for its own durable commit (about 7 ms)
 * inside the event's savepoint, which holds readmodels.db's write lock: a node with 10,000 credentials revoked held
 * every other read model (pki, audit, expiry, compliance) still for about 70 s, OCSP answering tryLater for every
 * certificate of the CA (review 443). Decided together, on distinct entities (the engine serialises per stream only),
 * the store's group commit syncs many per commit. Bounded so that a fan-out of 100,000 keeps this many decisions (their
 * entities, their pending appends) in memory at once, not all of them; half a transaction's MAX_IN_FLIGHT
 * (projections/runtime/batch.ts), past which a group commit gains little more per sync.
 */
export const MAX_REACTIONS_AT_ONCE = 256;

/**
 * Reactions of one event decided together: consecutive ones of one command type, on distinct targets (`joins`). Any
 * other waits for the whole wave before it, so a reaction that may depend on an earlier one of its event still finds
 * it decided, as one at a time did:
 * - on one target, a later command reads what an earlier one decided (a credential revoked, then found revoked and
 *   skipped rather than raised to keyCompromise: issue.ts, review 234), and their derived command ids may be one;
 * - across types, machines read other streams (machines/facts.ts): an association's revocation as affiliationChanged
 *   is taken once its credential or node was revoked as that (registreeMovedAway), an App-ID's enrolment ended or moved
 *   reads its credentials, a node's enrolment expired its subscription.
 * Within one type none reads a stream another of that type writes (a credential's revocation reads its successor only
 * as superseded, which the cascade never sends: credentialReasonOf; the bookkeeping reads only its association), so a
 * wave's reactions decide nothing from one another, and a fan-out (one type to thousands of targets) is one wave.
 */
class Wave {
  readonly reactions: Reaction[] = [];
  readonly #targets = new Set<string>();

  joins(reaction: Reaction): boolean {
    const first = this.reactions[0];
    return first === undefined || (first.type === reaction.type && !this.#targets.has(targetOf(reaction)));
  }

  add(reaction: Reaction): void {
    this.reactions.push(reaction);
    this.#targets.add(targetOf(reaction));
  }
}

/**
 * `wave` issued together, `atOnce` at a time. After a failure none is started; every one started settles
 * before this does (none still runs once the reaction returned, so none commits past the savepoint's undoing), and the
 * failure of the first in order among them surfaces, as one at a time would have surfaced it. What the others recorded
 * meanwhile is found done when the event is handled again (its derived command ids).
 */
const together = async (wave: readonly Reaction[], issueOne: (reaction: Reaction) => Promise<void>, atOnce: number): Promise<void> => {
  if (wave.length === 0) return;
  const failures = new Map<number, unknown>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failures.size === 0 && next < wave.length) {
      const i = next++;
      try {
        await issueOne(wave[i]!);
      } catch (error) {
        failures.set(i, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, wave.length) }, worker));
  if (failures.size > 0) throw failures.get(Math.min(...failures.keys()));
};
