import type Database from 'better-sqlite3';
import { isCredenceError } from '../../domain/errors.ts';
import { SYSTEM_ACTOR_IDS, type Actor } from '../../domain/metadata.ts';
import type { DecodedEvent } from '../../domain/stored.ts';
import { derivedCommandId } from '../../domain/event-ids.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { heldAt } from '../../machines/index.ts';
import { BatchSlot, roundFailure, type Projection } from '../runtime/index.ts';
import {
  DEADLINES_DUE_INDEX, dropDeadline, dropDeadlines, dueDeadlines, nextDeadline, putDeadline, resetDeadlines, setupDeadlines, writeDeadlines, type Deadline,
} from './deadlines.ts';

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

export interface ExpiryScheduler extends Projection {
  /** Issues every command whose deadline is at or before the engine clock's now; returns how many it issued. */
  tick(): Promise<number>;
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
type HeldDeadlines = Map<string, { cleared: boolean; readonly puts: Map<Deadline['purpose'], Deadline> }>;

const writeHeld = (db: Database.Database, held: HeldDeadlines): void => {
  const cleared: string[] = [];
  const puts: Deadline[] = [];
  for (const [stream, entry] of held) {
    if (entry.cleared) cleared.push(stream);
    for (const d of entry.puts.values()) puts.push(d);
  }
  writeDeadlines(db, cleared, puts);
};

export const expiryScheduler = (engine: CommandSink): ExpiryScheduler => {
  let db: Database.Database | undefined;
  // In a batch, each stream's deadlines are written once where its last event left them (writeDeadlines).
  const batch = new BatchSlot<HeldDeadlines>();
  const use = (): Database.Database => {
    if (db === undefined) throw new Error('expiry scheduler used before setup');
    return db;
  };
  /**
   * What the end of a rotation's overlap does (`d` its deadline): revoke the predecessor as superseded when its node
   * held the successor at the end of the overlap (`heldAt`, from the successor's recorded history, so a rebuilt
   * deadline decides the same); otherwise the rotation is abandoned: the predecessor is not revoked as superseded by a
   * credential the node did not hold, it stays until its own notAfter, and may be rotated again
   * (credential.machine.ts rotationOpen), to the same successor once that is provisioned. A deadline of an earlier
   * rotation of the credential (the projection has not written the current one's yet) waits to be replaced.
   */
  const overlapEnd = async (d: Deadline): Promise<'revoke' | 'wait' | 'abandoned'> => {
    const { credentialId } = d.command.data as { credentialId: string };
    const rotation = (await engine.view('credential', credentialId)).context as { successorId?: string; overlapEndsAt?: number };
    if (rotation.successorId === undefined || rotation.overlapEndsAt !== d.due) return 'wait';
    return heldAt(await engine.view('credential', rotation.successorId), d.due) ? 'revoke' : 'abandoned';
  };
  return {
    name: 'expiry',
    queryIndexes: [DEADLINES_DUE_INDEX],
    eventTypes: ['SubscriptionCreated', 'CredentialIssued', 'AssociationEstablished', 'CredentialRotationStarted', ...FINAL_EVENTS],
    setup(d) {
      db = d;
      setupDeadlines(d);
    },
    reset: resetDeadlines,
    apply(d, e) {
      const held = batch.held(d);
      if (FINAL_EVENTS.has(e.event.type)) {
        if (held === undefined) return dropDeadlines(d, e.record.streamId);
        held.set(e.record.streamId, { cleared: true, puts: new Map() });
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
    async tick() {
      const now = engine.clock.now().getTime();
      let issued = 0;
      const failed: { readonly stream: string; readonly error: unknown }[] = [];
      for (const d of dueDeadlines(use(), now)) {
        // Read again for each: a clock stepped back during the tick must not issue what is not due yet. An expiry's
        // machine would refuse it, but the end of a rotation's overlap is a revocation no machine times.
        if (engine.clock.now().getTime() < d.due) continue;
        try {
          const end = d.purpose === 'rotation' ? await overlapEnd(d) : 'revoke';
          if (end === 'wait') continue;
          if (end === 'abandoned') {
            if (engine.clock.now().getTime() >= d.due) dropDeadline(use(), d);
            continue;
          }
          const outcome = await engine.executeAsSystem({
            ...d.command,
            metadata: { commandId: derivedCommandId(`${d.purpose}:${d.stream}`, String(d.due)), actor: SCHEDULER_ACTOR },
          });
          if (!outcome.deduplicated) issued++;
        } catch (error) {
          if (!isCredenceError(error, 'illegal_transition') && !isCredenceError(error, 'not_found')) {
            // Kept, and tried again at the next tick; the deadlines behind it are not held up by it (a broken
            // history, a conflict past the retries), and every failure is reported once the tick is through. A
            // failure that is not a typed one (the store's I/O) ends the tick: the rest would only fail the same way.
            failed.push({ stream: d.stream, error });
            if (!isCredenceError(error)) break;
            continue;
          }
          // Refused by its machine: done already (the entity ended), unless the clock went back since the deadline
          // was read (the machine then answered "not yet"): kept for a later tick rather than lost.
          if (engine.clock.now().getTime() < d.due) continue;
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
