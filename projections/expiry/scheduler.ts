import type Database from 'better-sqlite3';
import { isCommandIdReused, isCredenceError } from '../../domain/errors.ts';
import { SYSTEM_ACTOR_IDS, type Actor } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { derivedCommandId } from '../../domain/event-ids.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { parseStreamId } from '../../domain/streams.ts';
import { rotationOutcomeAt } from '../../machines/index.ts';
import { rotationChainEnd } from './rotation-chain.ts';
import { BatchSlot, ownOrTaken, roundFailure, type Projection } from '../runtime/index.ts';
import { addExpiryDeadLetter, dropExpiryDeadLetters, resetExpiryDeadLetters, setupExpiryDeadLetters, type ExpiryDeadLetter } from './dead-letters.ts';
import {
  DEADLINES_DUE_INDEX, dropDeadline, dropDeadlines, dropPurpose, dueDeadlines, nextDeadline, putDeadline, resetDeadlines, setupDeadlines, writeDeadlines, type Deadline, type DeadlineCursor,
} from './deadlines.ts';

/** Due deadlines a tick reads and handles at most (the next tick takes the rest). */
const DEADLINES_PER_TICK = 1000;

/**
 * How many times a tick decides the end of one overlap when the credential's machine refuses its choice (the
 * successor ended, or came to be held, between the read and the commit): decided again on fresh facts each time, and
 * past that kept for the next tick.
 */
const ROTATION_DECISIONS = 3;

/** A refusal of what ends an overlap by the rule it was chosen by (the facts moved since they were read; review 31). */
const refusedHandover = (error: unknown): boolean =>
  isCredenceError(error, 'illegal_transition') &&
  error.problem.code === 'illegal_transition' &&
  (error.problem.rule === 'handedOver' || error.problem.rule === 'rotationAbandonable');

export const SCHEDULER_ACTOR: Actor = { id: SYSTEM_ACTOR_IDS[1], role: 'system' };

const deadlineFor = (e: DecodedEvent): Deadline | undefined => {
  const stream = e.record.streamId;
  switch (e.event.type) {
    case 'SubscriptionCreated': {
      const { subscriptionId, notAfter } = e.event.data;
      return { stream, purpose: 'expiry', due: Date.parse(notAfter), command: { type: 'expireSubscription', data: { subscriptionId } } };
    }
    case 'CredentialIssued': {
      const { credentialId, notAfter } = e.event.data;
      return { stream, purpose: 'expiry', due: Date.parse(notAfter), command: { type: 'expireCredential', data: { credentialId } } };
    }
    case 'AssociationEstablished': {
      const { associationId, expiresAt } = e.event.data;
      return { stream, purpose: 'expiry', due: Date.parse(expiresAt), command: { type: 'expireAssociation', data: { associationId } } };
    }
    case 'CredentialRotationStarted': {
      // HLR-212 / RS-16: at the end of the overlap window the predecessor is revoked as superseded.
      const { credentialId, overlapEndsAt } = e.event.data;
      return {
        stream,
        purpose: 'rotation',
        due: Date.parse(overlapEndsAt),
        command: { type: 'revokeCredential', data: { credentialId, reason: 'superseded' } },
        rotation: e.record.id,
      };
    }
    default:
      return undefined;
  }
};

const FINAL_EVENTS = new Set([
  'SubscriptionExpired',
  'SubscriptionTerminated',
  'CredentialExpired',
  'CredentialRevoked',
  'AssociationExpired',
  'AssociationRevoked',
]);

export interface ExpiryTickOptions {
  /**
   * Resolves once what reacts to recorded endings (the cascade) has handled everything stored so far. A tick awaits it
   * before a deadline due later than the last one it recorded an ending for (review 293): after a downtime one tick
   * otherwise recorded every due deadline in a row, and an entity the cascade revokes with the service up (its node's
   * enrolment ended, its predecessor superseded) was expired instead, with another reason and never on a CRL. Its
   * command is then refused by its machine where the cascade ended the entity, and dropped. A rejection ends the tick
   * as a failing store does: the rest of the page is kept for the next. What is owed outlasts the tick (review 344):
   * the next one, reading on from a full page or after a break, waits before its first deadline due at another instant.
   * So one that keeps rejecting holds back every later expiry, tick after tick (before, each tick got through at least
   * one instant): bound it and resolve when it gives up, as the live runtime's does (at most 5 s, said once a tick).
   */
  readonly reactionsHandled?: () => Promise<void>;
}

export interface ExpiryScheduler extends Projection {
  /** Issues every command whose deadline is at or before the engine clock's now; returns how many it issued. */
  tick(options?: ExpiryTickOptions): Promise<number>;
  /** The earliest pending deadline (epoch ms), to arm a timer. */
  next(): number | undefined;
}

/**
 * Expiry on schedule (credentials, associations, subscriptions) and the end of rotation overlaps. Deadlines are
 * a read model; `tick` turns the due ones into commands whose machines check the time again (`notAfterReached`),
 * so an early or repeated tick cannot expire anything before its time.
 */
/**
 * What the events of a batch so far did to each stream's deadlines: whether they dropped them all (a final event), and
 * the deadlines put since the last drop, by purpose.
 */
type HeldDeadlines = Map<string, { cleared: boolean; readonly puts: Map<Deadline['purpose'], Deadline>; readonly dropped?: Set<Deadline['purpose']> }>;

const writeHeld = (db: Database.Database, held: HeldDeadlines): void => {
  const cleared: string[] = [];
  const puts: Deadline[] = [];
  for (const [stream, entry] of held) {
    if (entry.cleared) cleared.push(stream);
    else for (const purpose of entry.dropped ?? []) dropPurpose(db, stream, purpose);
    for (const d of entry.puts.values()) puts.push(d);
  }
  writeDeadlines(db, cleared, puts);
};

export interface ExpirySchedulerOptions {
  /** Told of each dead letter as it is recorded (the service logs it at warn): nothing retries it. */
  readonly onDeadLetter?: (letter: ExpiryDeadLetter) => void;
}

export const expiryScheduler = (engine: CommandSink, options: ExpirySchedulerOptions = {}): ExpiryScheduler => {
  let db: Database.Database | undefined;
  /** Where the last tick's page ended, when it was full: the next tick reads on from there. */
  let resumeAfter: DeadlineCursor | undefined;
  /**
   * The streams with a deadline kept (not decided, or failed) since the ticks last started at the oldest: their later
   * deadlines wait behind it, on the pages read on from there too, until a tick comes round to it again.
   */
  let heldBehind = new Set<string>();
  /**
   * The due of the last deadline a tick recorded an ending for, until a wait for the cascade's reactions to it
   * resolved (ExpiryTickOptions.reactionsHandled). Kept across ticks (review 344): a tick reads one page, and stops
   * early on a failing store or a failed wait, so the first deadline the next tick reads may be due after an ending
   * the one before recorded, and the cascade has to react to that first, as it would have with the service up.
   */
  let reactionsOwedFor: number | undefined;
  // In a batch, each stream's deadlines are written once where its last event left them (writeDeadlines).
  const batch = new BatchSlot<HeldDeadlines>();
  const use = (): Database.Database => {
    if (db === undefined) throw new Error('expiry scheduler used before setup');
    return db;
  };
  /**
   * What ends a rotation's overlap (`d` its deadline), judged at the end of the overlap (`d.due`, not the tick's now:
   * review 31, HLR-212) by the credential's own rule (rotationOutcomeAt, which its guards `handedOver` and
   * `rotationAbandonable` check again at the commit against the same facts): the predecessor revoked as superseded
   * when its node held the successor then (or where a successor superseded in turn handed over to), the rotation
   * abandoned when it held neither (the successor never provisioned, or ended: the predecessor stays, and may rotate
   * again). 'wait' for a deadline of an earlier rotation of the credential (the projection has not written the current
   * one's yet), which is replaced; 'drop' when a successor superseded in turn left a chain whose end the node did not
   * hold (neither choice fits: the predecessor stays, and may rotate again, its successor having ended:
   * credential.machine.ts successorLinked).
   */
  const overlapEnd = async (d: Deadline): Promise<Deadline['command'] | 'wait' | 'drop'> => {
    const { credentialId } = d.command.data as { credentialId: string };
    const rotation = (await engine.view('credential', credentialId)).context as { successorId?: string; overlapEndsAt?: number };
    if (rotation.successorId === undefined || rotation.overlapEndsAt !== d.due) return 'wait';
    const successor = await engine.view('credential', rotation.successorId);
    const end = await rotationChainEnd(engine, rotation.successorId);
    const outcome = rotationOutcomeAt(successor, end.hops > 0 ? end.view : undefined, d.due);
    if (outcome === 'superseded') return d.command;
    return outcome === 'abandoned' ? { type: 'abandonCredentialRotation', data: { credentialId, successorId: rotation.successorId } } : 'drop';
  };
  /**
   * Sends what ends the overlap; refused by the rule it was chosen by (the facts it read moved before the commit:
   * review 31, the successor revoked meanwhile), decides again on fresh facts rather than dropping the deadline.
   */
  const sendOverlapEnd = async <T,>(d: Deadline, send: (command: Deadline['command']) => Promise<T>): Promise<T | 'wait' | 'drop'> => {
    for (let decision = 1; ; decision++) {
      const command = await overlapEnd(d);
      if (command === 'wait' || command === 'drop') return command;
      try {
        return await send(command);
      } catch (caught) {
        if (decision >= ROTATION_DECISIONS || !refusedHandover(caught)) throw caught;
      }
    }
  };
  /**
   * A command refused for its reused id: its own, recorded before under the id, is done; one the scheduler did not
   * send there (anyone else's, or its own for another command type) holds the id for good, so the deadline is
   * dead-lettered rather than tried at every tick (found in review: a legacy history holding the id kept it failing
   * forever) and the entity is left as it is, never counted as expired.
   */
  const reusedId = async (d: Deadline, command: Deadline['command'], commandId: string, refusal: Error): Promise<void> => {
    const target = parseStreamId(d.stream);
    const verdict = target === undefined ? undefined : await ownOrTaken(engine, target, commandId, { actor: SCHEDULER_ACTOR, commandType: command.type }, refusal);
    if (verdict === 'own') return;
    const reason = verdict?.message ?? `its command id ${commandId} is taken on ${d.stream}, which names no entity: ${refusal.message}`;
    const letter: ExpiryDeadLetter = { stream: d.stream, purpose: d.purpose, due: d.due, command: command.type, commandId, code: 'command_id_taken', reason };
    addExpiryDeadLetter(use(), letter);
    options.onDeadLetter?.(letter);
  };
  return {
    name: 'expiry',
    queryIndexes: [DEADLINES_DUE_INDEX],
    eventTypes: ['SubscriptionCreated', 'CredentialIssued', 'AssociationEstablished', 'CredentialRotationStarted', 'CredentialRotationAbandoned', ...FINAL_EVENTS],
    setup(d) {
      db = d;
      setupDeadlines(d);
      setupExpiryDeadLetters(d);
    },
    reset(d) {
      resetDeadlines(d);
      resetExpiryDeadLetters(d);
    },
    apply(d, e) {
      const held = batch.held(d);
      // A dead letter goes with the deadlines it came from. Only `tick` adds one, outside any batch (this projection's
      // batches are synchronous): dropped here, not deferred to the batch's end as its deadlines are.
      if (FINAL_EVENTS.has(e.event.type)) dropExpiryDeadLetters(d, e.record.streamId);
      else if (e.event.type === 'CredentialRotationAbandoned') dropExpiryDeadLetters(d, e.record.streamId, 'rotation');
      if (FINAL_EVENTS.has(e.event.type)) {
        if (held === undefined) return dropDeadlines(d, e.record.streamId);
        held.set(e.record.streamId, { cleared: true, puts: new Map() });
        return;
      }
      if (e.event.type === 'CredentialRotationAbandoned') {
        if (held === undefined) return dropPurpose(d, e.record.streamId, 'rotation');
        const entry = held.get(e.record.streamId) ?? { cleared: false, puts: new Map(), dropped: new Set<Deadline['purpose']>() };
        entry.puts.delete('rotation');
        held.set(e.record.streamId, { ...entry, dropped: new Set([...(entry.dropped ?? []), 'rotation']) });
        return;
      }
      const deadline = deadlineFor(e);
      if (deadline === undefined) return;
      if (held === undefined) return putDeadline(d, deadline);
      let entry = held.get(deadline.stream);
      if (entry === undefined) held.set(deadline.stream, (entry = { cleared: false, puts: new Map() }));
      entry.puts.set(deadline.purpose, deadline);
    },
    beginBatch: (d) => batch.open(d, new Map(), writeHeld),
    next: () => nextDeadline(use()),
    async tick(tickOptions = {}) {
      const now = engine.clock.now().getTime();
      let issued = 0;
      const failed: { readonly stream: string; readonly error: unknown }[] = [];
      // A page a tick, going on from where the last tick stopped and round to the oldest once past the newest: the
      // deadlines a tick keeps (it cannot handle them, or they are not for now) would otherwise fill the first page
      // at every tick, and none behind them would ever come due (found in review).
      let from = resumeAfter;
      let page = dueDeadlines(use(), now, DEADLINES_PER_TICK, from);
      if (page.length === 0 && from !== undefined) page = dueDeadlines(use(), now, DEADLINES_PER_TICK, (from = undefined));
      resumeAfter = page.length === DEADLINES_PER_TICK ? page[page.length - 1] : undefined;
      // A stream's deadlines are decided in their order: one kept holds back the stream's later ones, which are kept
      // too, untried. Review 251: a rotation's overlap ending at its predecessor's notAfter, its revocation as
      // superseded failing (a conflict, a busy store) or waiting, the expiry due at the same instant went next, and the
      // predecessor was expired instead, its rotation deadline dropped with it. Started at the oldest, a tick reads
      // every kept deadline again before the ones it held back.
      const held = from === undefined ? new Set<string>() : heldBehind;
      heldBehind = held;
      for (const [i, d] of page.entries()) {
        if (held.has(d.stream)) continue;
        // Read again for each: a clock stepped back during the tick must not issue what is not due yet. An expiry's
        // machine would refuse it, but the end of a rotation's overlap is a revocation no machine times.
        if (engine.clock.now().getTime() < d.due) {
          held.add(d.stream);
          continue;
        }
        // What is due at the same instant goes on; what is due later waits for the cascade to react to the endings
        // recorded before it (ExpiryTickOptions.reactionsHandled), as it would have with the service up. Earlier too:
        // a tick started again at the oldest (a deadline kept) reads one due before what an earlier tick recorded.
        if (reactionsOwedFor !== undefined && d.due !== reactionsOwedFor && tickOptions.reactionsHandled !== undefined) {
          try {
            await tickOptions.reactionsHandled();
            reactionsOwedFor = undefined;
          } catch (error) {
            failed.push({ stream: d.stream, error });
            resumeAfter = i === 0 ? from : page[i - 1];
            break;
          }
        }
        let sent: { readonly command: Deadline['command']; readonly commandId: string } | undefined;
        const send = (command: Deadline['command']) => {
          // The deadline's own command under the id it always had; an abandonment under one of its own. What ends a
          // rotation is that rotation's (review 344): the credential's rotations ending at the same instant (one
          // started again after the clock stepped back) share the rest, and the second was answered as the first's
          // repeat, dropped. A deadline an earlier version wrote names no rotation and keeps the id it had, so what was
          // recorded under it is still found.
          const source = d.rotation === undefined ? String(d.due) : `${d.due}:${d.rotation}`;
          sent = { command, commandId: derivedCommandId(command === d.command ? `${d.purpose}:${d.stream}` : `${d.purpose}:${command.type}:${d.stream}`, source) };
          return engine.executeAsSystem({ ...command, metadata: { commandId: sent.commandId, actor: SCHEDULER_ACTOR } });
        };
        try {
          const outcome = d.purpose === 'rotation' ? await sendOverlapEnd(d, send) : await send(d.command);
          if (outcome === 'wait') {
            held.add(d.stream);
            continue;
          }
          if (outcome === 'drop') {
            if (engine.clock.now().getTime() >= d.due) dropDeadline(use(), d);
            else held.add(d.stream);
            continue;
          }
          if (!outcome.deduplicated) {
            issued++;
            reactionsOwedFor = d.due;
          }
        } catch (caught) {
          // A refusal for its reused id is settled here (its own found, or the deadline dead-lettered) and dropped
          // below; asking whose the id is can fail as a command can (the store's I/O), and is then handled as that.
          const error = sent !== undefined && isCommandIdReused(caught) ? await reusedId(d, sent.command, sent.commandId, caught as Error).then(() => undefined, (lookup: unknown) => lookup) : caught;
          if (error !== undefined && !isCredenceError(error, 'illegal_transition') && !isCredenceError(error, 'not_found')) {
            // Kept, and tried again at the next tick; the deadlines behind it are not held up by it (a broken
            // history, a conflict past the retries), and every failure is reported once the tick is through. A
            // failure that is not a typed one (the store's I/O) ends the tick: the rest would only fail the same way.
            failed.push({ stream: d.stream, error });
            if (!isCredenceError(error)) {
              // The next tick starts at this one, not past the rest of the page, which was never tried (found in review):
              // it is read first there, so it holds nothing back.
              resumeAfter = i === 0 ? from : page[i - 1];
              break;
            }
            // One that clears by itself (a conflict past the retries, a busy store) holds the stream's later deadlines
            // back, to be decided in order next tick; one that does not (a broken history of the successor a rotation
            // reads) must not keep a credential live past its notAfter behind it for good.
            if (isCredenceError(error, 'concurrency_conflict') || isCredenceError(error, 'store_unavailable')) held.add(d.stream);
            continue;
          }
          // Refused by its machine: done already (the entity ended), unless the clock went back since the deadline
          // was read (the machine then answered "not yet"): kept for a later tick rather than lost. The end of an
          // overlap refused by its own rule each time it was decided (its facts kept moving) is kept too: the next
          // tick decides again (the deadline goes with the credential's end, or with the abandonment recorded).
          if ((error !== undefined && engine.clock.now().getTime() < d.due) || (d.purpose === 'rotation' && refusedHandover(error))) {
            held.add(d.stream);
            continue;
          }
        }
        dropDeadline(use(), d);
      }
      if (failed.length > 0) {
        const first = failed[0]!;
        throw roundFailure(`${failed.length} due deadline(s) could not be handled and are kept for the next tick`, { what: first.stream, error: first.error });
      }
      return issued;
    },
  };
};
