import type Database from 'better-sqlite3';
import { hash } from 'node:crypto';
import { isCredenceError, isCommandIdReused } from '../../domain/errors.ts';
import type { Pseudonym, RotationTrigger } from '../../domain/events/pseudonym.ts';
import { SYSTEM_ACTOR_IDS, type Actor, type RequestSignature } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { derivedCommandId, eventIdsWith } from '../../domain/event-ids.ts';
import { Instant } from '../../domain/ids.ts';
import { sentBy, type ExecuteOptions } from '../../domain/ports/index.ts';
import { recordedBy, type ReactionInFlight } from '../runtime/index.ts';
import { applyToDirectory, DIRECTORY_EVENT_TYPES } from './apply.ts';
import { decidedBeforeReset, markDecidedBefore, setupDecidedBefore } from './decided-before-reset.ts';
import { isDue, movedByEnrolment, nodePseudonym, resetDirectory, setupDirectory } from './directory.ts';
import { behindMarks, marksBehindTheLog, type NodeEpoch } from './epoch-marks.ts';
import { firstEpoch } from './first-epoch.ts';
import { firstEpochsOf } from './first-epochs.ts';
import { policyFor, RotationPolicy } from './policy.ts';
import { rotationRecordedNear, type RecordedRotation } from './recorded-near.ts';
import { NodeLanes, RecordedEpochs } from './rotation-lanes.ts';
import { RotationRounds } from './rotation-round.ts';
import { tickRound } from './rotation-tick.ts';
import {
  DEFAULT_TICK_CONCURRENCY,
  skipReason,
  type PastMarks,
  type PseudonymRotation,
  type PseudonymRotationOptions,
  type RotationOutcome,
} from './rotation-contract.ts';

export { DEFAULT_TICK_CONCURRENCY, type PastMarks, type PseudonymRotation, type PseudonymRotationOptions, type RotationOutcome };

export const PSEUDONYM_ACTOR: Actor = { id: SYSTEM_ACTOR_IDS[2], role: 'system' };

/**
 * Who records the rotations this process manager makes itself (reactions and interval rounds): a command under one
 * of their ids is theirs only when it is this one. A derived id can be worked out before its rotation runs, so
 * another command may hold it (an operator's, stored before admission reserved derived ids); taken as done, the
 * node kept its pseudonym (the same flaw made the cascade skip a credential, found in review; SER-011, SER-025).
 */
const OWN_ROTATION = { actor: PSEUDONYM_ACTOR, commandType: 'rotatePseudonym' } as const;

/** Epochs one rotation tries past the node's latest known before it stops. */
const EPOCHS_TRIED = 64;

/** Triggers whose commands are reactions to a stored event, under an id derived from it. */
const REACTIONS: ReadonlySet<RotationTrigger> = new Set(['initial', 'association']);

/** Interval rotations' command ids: the domain's derivation over Node's native SHA-256 (1.5 µs per rotation, not 6). */
const { derivedCommandId: nativeDerivedCommandId } = eventIdsWith((text) => hash('sha256', text, 'hex'));
export const intervalCommandId = (nodeId: string, epoch: number | undefined): string =>
  nativeDerivedCommandId(`pseudonym:interval:${nodeId}`, String(epoch));

/** The projection's name: its checkpoint's, which a reset reads (decided-before-reset.ts). */
const NAME = 'pseudonyms';

/** Pseudonyms a tick derives per PRF call (one Secure Environment call with `prfMany`), and nodes per store read. */
const TICK_CHUNK = 2048;

/**
 * Pseudonym rotation (seed 004 trust and privacy; SER-011, SER-018, SER-025) as a process manager: the first
 * pseudonym when a node is registered, a new one on each association or interval as its class policy says, and
 * the directory read model. Each rotation is a `rotatePseudonym` command whose id derives from its cause, so a
 * re-run after a crash appends nothing twice.
 */
export const pseudonymRotation = (options: PseudonymRotationOptions): PseudonymRotation => {
  const { engine, deriver, epochMarks } = options;
  const policy = RotationPolicy.parse(options.policy ?? {});
  const tickLimit = options.tickLimit ?? 10_000;
  const concurrency = options.tickConcurrency ?? DEFAULT_TICK_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError('options.tickConcurrency: must be a whole number >= 1');
  let db: Database.Database | undefined;
  /** Stream and command id of the rotations stored in the batch being handled: a reaction found there is done. */
  let inBatch: ReadonlySet<string> = new Set();
  const demands = new NodeLanes();
  const recordedEpochs = new RecordedEpochs();
  const rounds = new RotationRounds(deriver, policy, TICK_CHUNK);
  // The epochs the public stream names a node under before the rotation that takes them is folded (review 303, 366).
  const firstEpochs = firstEpochsOf({ directory: () => db, marks: epochMarks, deriver, engine });
  const use = (): Database.Database => {
    if (db === undefined) throw new Error('pseudonym rotation used before setup');
    return db;
  };

  /**
   * Whether a reaction re-run (a rebuild, a resumed catch-up) is on the pseudonym's stream already under its derived
   * id, recorded by this process manager: in the batch being handled, or in the store's index of command ids. Then
   * it is done and nothing is decided.
   */
  const recordedBefore = async (pseudonym: Pseudonym, commandId: string): Promise<boolean> =>
    inBatch.has(`pseudonym-${pseudonym}\n${commandId}`) || (await recordedBy(engine, 'pseudonym', pseudonym, commandId, OWN_ROTATION));

  /**
   * Epochs recorded and not marked yet: marked in one durable write per tick chunk, at a tick's end and at once for a
   * demand. Marked once recorded, never before: a mark says a pseudonym was given out, and one raised for a rotation
   * then refused (or sent again, or cut short) made a start take the node for one a restore had lost (review 156). A
   * process stopped before it marked leaves the log ahead of its marks, which the next start's rotatePastMarks raises.
   */
  const unmarked: NodeEpoch[] = [];
  /**
   * Registrations and enrolments of the batch being handled whose reaction has not run yet (prepare counts them): the
   * epochs they record are marked in one write after the last, not one per move (a whole fleet moved at once).
   */
  let registrationsLeft = 0;
  /** Command ids of the rotations a move's reaction records: marked with the batch's, not at once as a demand's. */
  const markedWithTheBatch = new Set<string>();
  const markRecorded = (): void => {
    if (epochMarks !== undefined && unmarked.length > 0) epochMarks.raiseEpochMarks(unmarked.splice(0));
  };

  const record = async (
    nodeId: string, epoch: number, pseudonym: Pseudonym, trigger: RotationTrigger, metadata: { commandId?: string; actor: Actor; signature?: RequestSignature }, options?: ExecuteOptions,
  ): Promise<RotationOutcome> => {
    const command = { type: 'rotatePseudonym', data: { pseudonym, nodeId, epoch, trigger }, metadata };
    const outcome = await (metadata.actor.role === 'system' ? engine.executeAsSystem(command) : engine.execute(command, options));
    // A repeat's events are the first outcome's, so this is when the rotation was recorded, whoever asked it again.
    const at = Instant.safeParse(outcome.events[0]?.metadata['occurredAt']);
    recordedEpochs.note(nodeId, epoch, at.success ? Date.parse(at.data) : undefined);
    // Epoch 0 too: a log restored from a backup older than the registration loses it, and the node registered again
    // must start past it (first-epoch.ts, review 226).
    if (epochMarks !== undefined) {
      unmarked.push({ nodeId, epoch });
      const withTheBatch = metadata.commandId !== undefined && markedWithTheBatch.has(metadata.commandId);
      if ((trigger === 'demand' && !withTheBatch) || unmarked.length >= TICK_CHUNK) markRecorded();
    }
    return { outcome: outcome.deduplicated ? 'duplicate' : 'rotated', nodeId, epoch, pseudonym };
  };

  /**
   * A rotation of this process manager's found recorded at another epoch than the one tried: done, and noted (and
   * marked, as given out) as one it recorded is, so the node's later rotations start past it.
   */
  const foundDone = (nodeId: string, found: RecordedRotation): RotationOutcome => {
    recordedEpochs.note(nodeId, found.epoch);
    if (epochMarks !== undefined) unmarked.push({ nodeId, epoch: found.epoch });
    return { outcome: 'duplicate', nodeId, epoch: found.epoch, pseudonym: found.pseudonym };
  };

  /**
   * Whether a node found rotated to `epoch` since a tick read it as due is due still, by its latest rotation known here:
   * the directory's, caught up since, or one this process recorded. A rotation known by neither (another process's,
   * the directory behind) is taken as recent: the node waits for a tick that reads it from the directory.
   */
  const dueStill = (nodeId: string, epoch: number, every: number): boolean => {
    const noted = recordedEpochs.latestRotation(nodeId);
    const listed = nodePseudonym(use(), nodeId);
    const latest =
      listed?.epoch !== undefined && listed.epoch >= epoch && (noted === undefined || listed.epoch >= noted.epoch)
        ? listed.rotatedAt
        : noted !== undefined && noted.epoch >= epoch ? noted.at : undefined;
    return latest !== undefined && isDue(latest, engine.clock.now().getTime(), every);
  };

  const rotate = async (
    nodeId: string,
    trigger: RotationTrigger,
    metadata: { commandId?: string; actor: Actor; correlationId?: string; causationId?: string; signature?: RequestSignature },
    /**
     * What a tick read and derived for the node already: its current epoch and the next epoch's pseudonym; and the
     * interval (ms) it found the node due by.
     */
    known?: { readonly current: number | undefined; readonly next: Pseudonym; readonly every?: number },
    options?: ExecuteOptions,
  ): Promise<RotationOutcome> => {
    const listed = known !== undefined ? known.current : nodePseudonym(use(), nodeId)?.epoch;
    // A demand starts past what this process stored for the node too: the directory lags behind the store under load
    // (review 94). Ticks and reactions keep the directory's epoch, which their derived command ids are made from.
    const noted = trigger === 'demand' ? recordedEpochs.latest(nodeId) : undefined;
    const current = noted !== undefined && (listed === undefined || noted > listed) ? noted : listed;
    let epoch = trigger === 'initial' ? 0 : current === undefined ? 0 : current + 1;
    const reaction = metadata.commandId;
    if (trigger === 'initial' && epochMarks !== undefined && reaction !== undefined) {
      const first = await firstEpoch({ nodeId, mark: epochMarks.epochMark(nodeId), deriver, recorded: (p) => recordedBefore(p, reaction) });
      if (first.recorded !== undefined) return { outcome: 'duplicate', nodeId, epoch: first.epoch, pseudonym: first.recorded };
      epoch = first.epoch;
    }
    // The directory may lag behind rotations already stored: an epoch whose pseudonym exists is taken, try the next.
    for (let attempt = 0; attempt < EPOCHS_TRIED; attempt++, epoch++) {
      const pseudonym = attempt === 0 && known !== undefined ? known.next : await deriver.node(nodeId, epoch);
      // Only reactions: a tick's and an operator's commands go straight to the engine.
      const { commandId } = metadata;
      if (REACTIONS.has(trigger) && commandId !== undefined && (await recordedBefore(pseudonym, commandId))) {
        return { outcome: 'duplicate', nodeId, epoch, pseudonym };
      }
      try {
        return await record(nodeId, epoch, pseudonym, trigger, metadata, options);
      } catch (error) {
        // A reaction or interval rotation this process manager recorded before under its derived id, at an earlier
        // epoch (redelivered after the directory moved on) or a later one (run again over a directory older than when
        // it was recorded: a batch's read models lost, review 233), is done. Anyone else's command under the id
        // leaves it undone for good: surfaced, as a broken history is, never counted as done.
        if (isCommandIdReused(error) && trigger !== 'demand') {
          const own = commandId === undefined ? undefined : await rotationRecordedNear(engine, deriver, nodeId, epoch, commandId, OWN_ROTATION);
          if (own !== undefined) return foundDone(nodeId, own);
          throw error;
        }
        const taken = isCredenceError(error, 'illegal_transition') && error.problem.code === 'illegal_transition' && error.problem.state === 'active';
        if (taken) recordedEpochs.note(nodeId, epoch);
        // The node was rotated since the tick read it as due (an operator, an association, another process): it is
        // walked past only when that rotation is due too, taken before the current interval's start (review 163).
        if (taken && trigger === 'interval' && known?.every !== undefined && !dueStill(nodeId, epoch, known.every)) {
          return { outcome: 'skipped', nodeId, reason: `rotated since the tick found it due (epoch ${epoch} is taken); not due again yet` };
        }
        if (taken && trigger !== 'initial') continue;
        const refused = isCredenceError(error, 'illegal_transition') || isCredenceError(error, 'not_found');
        // An on-demand rotation carries its caller's id. A request sent again once its rotation is in the directory
        // aims at the epoch after it, a new stream, so the engine does not find the id there: refused as reused while
        // the node is live, refused by the node's rule once it is not (revoked since the first answer, review 59).
        // Either way it is the rotation it recorded at one of the node's epochs near this one (a past-mark rotation
        // run again over an older directory aims below it, review 233), sent again there for the
        // engine to answer from that stream, which holds the id (the same actor and data get the first outcome,
        // anything else is refused as a reused id): a duplicate's answer, nothing appended. An id on no stream of this
        // node (one another node's rotation used) is not its duplicate: refused as reused, or by the node's rule.
        if (trigger === 'demand' && commandId !== undefined && (refused || isCommandIdReused(error))) {
          const sent = await rotationRecordedNear(engine, deriver, nodeId, epoch, commandId);
          if (sent !== undefined) return record(nodeId, sent.epoch, sent.pseudonym, trigger, metadata, options);
        }
        if (refused) return { outcome: 'skipped', nodeId, reason: skipReason(error) };
        throw error;
      }
    }
    const reason = `${EPOCHS_TRIED} epochs past ${String(current)} are taken: rotations of this node stored elsewhere are not in the pseudonym directory yet`;
    // An operator's request is answered that it may be sent again; a tick's or a reaction's failure is reported and
    // tried again by the runtime, as before.
    if (trigger === 'demand') return { outcome: 'busy', nodeId, reason };
    throw new Error(`pseudonym rotation of ${nodeId}: ${reason}; the directory is far behind`);
  };

  /** Past-mark rotations in flight at once at a start. */
  const PAST_MARK_CONCURRENCY = 64;

  /**
   * Whether the node's rotation to `epoch` is in the store: a directory behind the store (a catch-up, a batch not
   * applied yet) is no restore.
   */
  const stored = async (nodeId: string, epoch: number): Promise<boolean> =>
    (await engine.view('pseudonym', await deriver.node(nodeId, epoch))).state !== 'absent';

  const rotateEachPastMarks = async (): Promise<PastMarks> => {
    if (epochMarks === undefined) return { behind: 0, rotated: 0, other: 0 };
    epochMarks.raiseEpochMarks(marksBehindTheLog(use(), epochMarks));
    const { live: marked, other } = behindMarks(use(), epochMarks);
    const live: NodeEpoch[] = [];
    for (const mark of marked) if (!(await stored(mark.nodeId, mark.epoch))) live.push(mark);
    let rotated = 0;
    let next = 0;
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < live.length) {
        const { nodeId, epoch: mark } = live[next++]!;
        const pseudonym = await deriver.node(nodeId, mark + 1);
        // Under an id derived from the mark: a start cut short and run again finds it done.
        const metadata = { commandId: nativeDerivedCommandId(`pseudonym:past-mark:${nodeId}`, String(mark)), actor: PSEUDONYM_ACTOR };
        try {
          const outcome = await demands.run(nodeId, () => rotate(nodeId, 'demand', metadata, { current: mark, next: pseudonym }));
          if (outcome.outcome === 'rotated' || outcome.outcome === 'duplicate') rotated++;
        } catch (error) {
          // A node that cannot rotate (refused) is left, counted; the store's failure stops the rest.
          if (!isCredenceError(error)) failure = error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PAST_MARK_CONCURRENCY, live.length) }, worker));
    markRecorded();
    if (failure !== undefined) throw failure;
    return { behind: live.length, rotated, other };
  };

  /** Once per process; a failed pass is not kept, so the next tick or demand tries again. */
  let pastMarks: Promise<PastMarks> | undefined;
  const rotatePastMarks = (): Promise<PastMarks> => {
    if (pastMarks !== undefined) return pastMarks;
    const pass = rotateEachPastMarks();
    pastMarks = pass;
    pass.catch(() => {
      if (pastMarks === pass) pastMarks = undefined;
    });
    return pass;
  };

  /**
   * First pseudonyms still being recorded, by node. A first pseudonym is a command on a stream of its own that no
   * read model row waits for, so the runner goes on to the next event meanwhile (ReactionInFlight): the batch's
   * registrations share group commits. The node's next reaction waits for it, and fails if it failed: an association's
   * rotation takes the epoch after it (raced, or after a failure, it could take epoch 0, and the first pseudonym be
   * refused as taken).
   */
  const firstPseudonyms = new Map<string, Promise<void>>();

  const react = async (e: DecodedEvent): Promise<void | ReactionInFlight> => {
    const caused = (name: string) => ({
      commandId: derivedCommandId(name, e.record.id),
      actor: PSEUDONYM_ACTOR,
      correlationId: e.metadata.correlationId,
      causationId: e.record.id,
    });
    switch (e.event.type) {
      case 'NodeRegistered': {
        const { nodeId } = e.event.data;
        const before = firstPseudonyms.get(nodeId);
        const settled = (async () => {
          try {
            // A first pseudonym tried before and failed (a batch handled again) is this one's to try again.
            if (before !== undefined) await before.catch(() => undefined);
            await rotate(nodeId, 'initial', caused(`pseudonym:initial:${nodeId}`));
          } finally {
            // The batch's first pseudonyms marked in one write after its last registration, not at the next tick: a
            // folder moved aside by a restore is never started again to mark them from its log (review 226).
            if (--registrationsLeft <= 0) markRecorded();
          }
        })();
        firstPseudonyms.set(nodeId, settled);
        // Kept while it failed: the node's association, later in the same transaction, must fail with it, not take its
        // epoch 0 (review 265); the event is handled again, from its registration, which queues it anew.
        settled.then(
          () => {
            if (firstPseudonyms.get(nodeId) === settled) firstPseudonyms.delete(nodeId);
          },
          () => undefined,
        );
        return { settled };
      }
      case 'AssociationConfigured': {
        // Decided by the run before the directory was emptied, under its policy: a rotation it recorded is in the log
        // (applied from there); one it did not, today's `onAssociation` must not add (review 208).
        if (decidedBeforeReset(use(), e)) return;
        await firstPseudonyms.get(e.event.data.nodeId);
        const node = nodePseudonym(use(), e.event.data.nodeId);
        if (node === undefined || !node.live || !policyFor(policy, node.profileClass).onAssociation) return;
        await rotate(node.nodeId, 'association', caused(`pseudonym:association:${node.nodeId}`));
        return;
      }
      case 'NodeEnrolled': {
        // A move to another subscription (RS-17), as the directory tells it (its enrolments, applied after this
        // reaction): the public fold keeps the node out of every scoped stream from the move until its next rotation
        // (node-history.ts), so the node takes one at once, whatever its class policy, and the new stakeholder sees it
        // from there under a name the old one never saw (reviews 366, 369; SER-025). A first enrolment or one under the
        // same subscription again is no move. Decided by the run before a reset as an association's is (review 208): a
        // rebuild adds no rotation for the moves stored before this reaction existed; those nodes stay out of every
        // scope until rotated on demand.
        const { nodeId, subscriptionId } = e.event.data;
        try {
          if (!movedByEnrolment(use(), nodeId, subscriptionId, e.record.position) || decidedBeforeReset(use(), e)) return;
          await firstPseudonyms.get(nodeId);
          const node = nodePseudonym(use(), nodeId);
          if (node === undefined || !node.live) return;
          // Past the names of the frames before it: the directory's epoch (every rotation stored before this event) or,
          // before the node's first rotation is listed, the epoch that one takes; past any this process recorded since.
          const listed = node.epoch ?? (await firstEpochs.firstEpochOf(nodeId));
          const noted = recordedEpochs.latest(nodeId);
          const current = noted !== undefined && noted > listed ? noted : listed;
          // A system rotation under the id derived from the enrolment (trigger `demand`, as the rotation past a mark):
          // redelivered after a restart, it is found recorded at the epoch it took (`rotate`'s demand branch).
          const metadata = caused(`pseudonym:enrolment:${nodeId}`);
          const known = { current, next: await deriver.node(nodeId, current + 1) };
          markedWithTheBatch.add(metadata.commandId);
          try {
            const outcome = await demands.run(nodeId, () => rotate(nodeId, 'demand', metadata, known));
            if (outcome.outcome === 'busy') throw new Error(`pseudonym rotation of ${nodeId} on its enrolment: ${outcome.reason}`);
          } finally {
            markedWithTheBatch.delete(metadata.commandId);
          }
        } finally {
          if (--registrationsLeft <= 0) markRecorded();
        }
        return;
      }
      default:
        return;
    }
  };

  return {
    name: NAME,
    eventTypes: [...DIRECTORY_EVENT_TYPES, 'AssociationConfigured'],
    setup(d) {
      db = d;
      setupDirectory(d);
      setupDecidedBefore(d, NAME, engine.clock.now().getTime());
    },
    reset(d, cause) {
      // The round was read from the directory reset: its nodes and epochs are the rebuild's to say again.
      rounds.drop();
      markDecidedBefore(d, NAME, cause ?? 'rebuild', engine.clock.now().getTime());
      resetDirectory(d);
    },
    // The public stream names a node before its first rotation at the epoch that rotation takes (review 303).
    deriver: deriver.withFirstEpochs(firstEpochs),
    apply: applyToDirectory,
    react,
    // The initial pseudonyms of the nodes registered in a batch, in one PRF call (the reactions then find them
    // memoised), and which rotations the batch holds already.
    async prepare(events) {
      // Every first pseudonym of the batches before has settled (the runner settles them before their checkpoint): a
      // failed one kept for its node's association is forgotten, and tried again with its registration (review 267).
      firstPseudonyms.clear();
      inBatch = new Set(events.flatMap((e) => (e.event.type === 'PseudonymRotated' && sentBy(e.metadata, OWN_ROTATION) ? [`${e.record.streamId}\n${e.metadata.commandId}`] : [])));
      const registered = events.flatMap((e) => (e.event.type === 'NodeRegistered' ? [{ nodeId: e.event.data.nodeId, epoch: 0 }] : []));
      registrationsLeft = registered.length + events.filter((e) => e.event.type === 'NodeEnrolled').length;
      if (registered.length > 1) await deriver.nodes(registered);
    },
    async tick() {
      // Not before the nodes a restore left behind their marks are past them: the round would give their lost epochs out.
      await rotatePastMarks();
      try {
        return await tickRound({
          engine, rounds, use, tickLimit, concurrency, chunkSize: TICK_CHUNK,
          // One interval rotation per epoch: a repeated tick before the directory catches up is deduplicated.
          rotateDue: ({ nodeId, current, next, every }) =>
            rotate(nodeId, 'interval', { commandId: intervalCommandId(nodeId, current), actor: PSEUDONYM_ACTOR }, { current, next, every }),
        });
      } finally {
        markRecorded();
      }
    },
    rotatePastMarks,
    rotateNow: async (nodeId, actor, commandId, options, signature) => {
      await rotatePastMarks();
      const metadata = { ...(commandId !== undefined ? { commandId } : {}), actor, ...(signature !== undefined ? { signature } : {}) };
      return demands.run(nodeId, () => rotate(nodeId, 'demand', metadata, undefined, options));
    },
  };
};
