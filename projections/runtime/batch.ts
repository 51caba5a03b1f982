import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoints.ts';
import { ReactionInTurn, ReactionsInFlight, type Failed } from './reactions-in-flight.ts';
import { prepared } from './statements.ts';
import type { Projection } from './types.ts';

/** Work run one at a time, in the order it was asked for. */
class FifoLock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

const writeLocks = new WeakMap<Database.Database, FifoLock>();

/**
 * One writer at a time on a read-model connection. A transaction whose reactions are awaited stays open across those
 * awaits; any other batch run meanwhile on the same connection would land inside it (and be undone with it), so
 * every transaction of every runner on the connection takes this lock from BEGIN to COMMIT or ROLLBACK. Only that
 * long: a projection with reactions takes it again for each of its transactions, so the other projections get in
 * between them (`maxBatchMs`). FIFO: per projection, batches still run in the order they were asked for.
 */
export const writeLockOf = (db: Database.Database): FifoLock => {
  let lock = writeLocks.get(db);
  if (lock === undefined) {
    lock = new FifoLock();
    writeLocks.set(db, lock);
  }
  return lock;
};

const batchLocks = new WeakMap<Projection, FifoLock>();

/**
 * One batch at a time per projection with reactions, whichever runner handles it: what `prepare` found describes
 * the batch being handled until its last transaction commits, and the connection is let go between transactions.
 */
const batchLockOf = (projection: Projection): FifoLock => {
  let lock = batchLocks.get(projection);
  if (lock === undefined) {
    lock = new FifoLock();
    batchLocks.set(projection, lock);
  }
  return lock;
};

export const checkpointOf = (record: RecordedEvent): Checkpoint => ({
  position: record.position,
  occurredAt: String((record.metadata as Record<string, unknown>)['occurredAt'] ?? ''),
  eventId: record.id,
  streamId: record.streamId,
});

/** Whether a record may be a checkpoint (resume-point.ts `checkpointableOn`): on the embedded store, every one. */
export type Checkpointable = (record: RecordedEvent) => boolean;

const everyRecord: Checkpointable = () => true;

/**
 * The checkpoint a batch's first `count` records leave: the last of them that may be one. Another application's
 * record (an EventStoreDB cluster shared with it) leaves $all once scavenged, and a checkpoint there could no longer
 * be resumed from (review 179); such records are passed over again by the next catch-up, which they leave as they
 * found it. Undefined when none may be: the checkpoint stays where it was.
 */
const ownCheckpointOf = (records: readonly RecordedEvent[], count: number, checkpointable: Checkpointable): Checkpoint | undefined => {
  for (let i = count - 1; i >= 0; i--) if (checkpointable(records[i]!)) return checkpointOf(records[i]!);
  return undefined;
};

const writeOwnCheckpoint = (db: Database.Database, name: string, records: readonly RecordedEvent[], count: number, checkpointable: Checkpointable): void => {
  const checkpoint = ownCheckpointOf(records, count, checkpointable);
  if (checkpoint !== undefined) writeCheckpoint(db, name, checkpoint);
};

/**
 * The decoded events of a batch, one per record at the same index; an undecodable event (undefined) is replay's
 * finding to report, and projections pass over it rather than stall forever. Decoded by the caller once per page for
 * every projection, in an array rather than a map keyed by record (no entry per event to allocate and collect).
 */
export type DecodedBatch = readonly (DecodedEvent | undefined)[];

/**
 * A projection without reactions: every event of the batch and the checkpoint after the last one, in one
 * transaction. A handler that throws leaves nothing of the batch and the checkpoint where it was.
 */
export const applyBatch = (
  db: Database.Database,
  projection: Projection,
  records: readonly RecordedEvent[],
  events: DecodedBatch,
  checkpointable: Checkpointable = everyRecord,
): void => {
  const apply = projection.apply;
  db.transaction(() => {
    if (apply !== undefined) {
      const batch = projection.beginBatch?.(db);
      try {
        for (let i = 0; i < events.length; i++) {
          const event = events[i];
          if (event !== undefined) apply.call(projection, db, event);
        }
        batch?.flush();
      } catch (error) {
        batch?.discard();
        throw error;
      }
    }
    writeOwnCheckpoint(db, projection.name, records, records.length, checkpointable);
  })();
};

/** The records of a batch past the projection's checkpoint, with their decoded events at the same indexes. */
export interface PendingBatch {
  readonly records: readonly RecordedEvent[];
  readonly decoded: DecodedBatch;
}

/** Events at or before the checkpoint were handled already (by the other of catch-up and live following). */
export const pastCheckpoint = (db: Database.Database, name: string, records: readonly RecordedEvent[], decoded: DecodedBatch): PendingBatch => {
  const done = readCheckpoint(db, name)?.position;
  if (done === undefined || !records.some((r) => r.position <= done)) return { records, decoded };
  const past: RecordedEvent[] = [];
  const pastDecoded: (DecodedEvent | undefined)[] = [];
  for (let i = 0; i < records.length; i++) {
    if (records[i]!.position > done) {
      past.push(records[i]!);
      pastDecoded.push(decoded[i]);
    }
  }
  return { records: past, decoded: pastDecoded };
};

export interface ReactionBatchLimits {
  /** Events per transaction at most. */
  readonly maxEvents: number;
  /** A transaction is committed once it has been open this long (ms), at the next event boundary. */
  readonly maxMs: number;
}

const noOpenTransaction = (db: Database.Database, projection: Projection): void => {
  if (db.inTransaction) throw new Error(`projection ${projection.name}: a transaction is already open on the read-model connection`);
};

/**
 * A projection with reactions, in order, many events per transaction: for each event its reaction (awaited, but for
 * the work it leaves in flight, settled before the checkpoint), then its `apply`, each event inside a savepoint. A
 * reaction reads what the events before it wrote, as it did with one transaction per event: same connection, same
 * transaction. The checkpoint is written in the transaction that applies the events it covers, so a crash at any
 * instant leaves the read model and the checkpoint together, and the reactions after the checkpoint run again (their
 * derived command ids make the repeat a no-op).
 *
 * `pending` picks, under the connection's write lock, what is left to handle (false: nothing, a rebuild came since
 * the batch was read). The lock is held for one transaction at a time, not the whole batch, so the other
 * projections on the connection are never further behind than `maxMs` plus one reaction, or plus the settling of at
 * most MAX_IN_FLIGHT reactions left in flight. One reaction is not bounded by time: it is every command its event calls
 * for, each decided and durably committed, so a revocation's cascade holds them back for its whole fan-out (about 1,100
 * commands a second, decided MAX_REACTIONS_AT_ONCE at a time: 10,000 credentials of one node about 9 s on a loaded
 * two-core machine, where one command at a time took 70 s; projections/cascade/process-manager.ts, review 443). Before each transaction the checkpoint is looked at again: another
 * runner on the connection may have handled some of these events meanwhile (they are passed over) or reset the read
 * model (the batch stops there; its events are for the reset read model's own catch-up). Resolves to how many events
 * were handled, or false when a rebuild came (before the read, or between two transactions): the caller then leaves
 * the projection to the rebuild's own catch-up.
 *
 * When an event fails (its reaction or its `apply`), its savepoint is rolled back and the events before it are
 * committed with their checkpoint, exactly what one transaction per event would have left; the error surfaces and
 * the next run starts at the failing event, so a reaction that keeps failing never makes the runner re-issue the ones
 * that succeeded before it (those of a transaction whose reactions were left in flight are handled again, and found
 * done: reactInOneTransaction).
 */
export const reactInBatches = (
  db: Database.Database,
  projection: Projection,
  pending: () => PendingBatch | false,
  limits: ReactionBatchLimits,
  checkpointable: Checkpointable = everyRecord,
): Promise<number | false> => {
  const react = projection.react;
  if (react === undefined) throw new TypeError(`projection ${projection.name} has no reactions`);
  const lock = writeLockOf(db);
  return batchLockOf(projection).run(async () => {
    const picked = await lock.run(() => {
      noOpenTransaction(db, projection);
      const batch = pending();
      return batch === false ? false : { ...batch, after: readCheckpoint(db, projection.name)?.position };
    });
    if (picked === false) return false;
    let { records, decoded } = picked;
    if (records.length === 0) return 0;
    // Outside the lock: it writes nothing (Projection.prepare) and may wait on the Secure Environment.
    if (projection.prepare !== undefined) {
      const events: DecodedEvent[] = [];
      for (const event of decoded) if (event !== undefined) events.push(event);
      await projection.prepare(events);
    }
    let after = picked.after;
    let handled = 0;
    while (records.length > 0) {
      const next = await lock.run(() => {
        noOpenTransaction(db, projection);
        const now = readCheckpoint(db, projection.name)?.position;
        // Reset by another runner while the lock was let go: what is left would be applied over an emptied read model.
        if (after !== undefined && (now === undefined || now < after)) return undefined;
        const left = now === after ? { records, decoded } : pastCheckpoint(db, projection.name, records, decoded);
        if (left.records.length === 0) return { left, count: 0 };
        return reactInOneTransaction(db, projection, react, left, limits, checkpointable).then((count) => ({ left, count }));
      });
      // Reset meanwhile: the caller leaves the projection to the rebuild's own catch-up, as for a rebuild before the read.
      if (next === undefined) return false;
      handled += next.count;
      records = next.left.records.slice(next.count);
      decoded = next.left.decoded.slice(next.count);
      // Where the checkpoint now is: the last of Credence's records committed (another application's leave it as it was).
      if (next.count > 0) after = ownCheckpointOf(next.left.records, next.count, checkpointable)?.position ?? after;
    }
    return handled;
  });
};

/**
 * Reactions left in flight per transaction at most: a transaction ends at the next event boundary once this many are,
 * and holds the connection's write lock while they settle (they return at once, so `maxMs` alone would let a
 * transaction take `maxEvents` of them: review 265). As many as a pseudonym rotation tick keeps in flight.
 */
const MAX_IN_FLIGHT = 512;

/**
 * One transaction of `reactInBatches`: from the first of `batch` on, within `limits`. Resolves to how many it committed.
 * Reactions left in flight (Projection.react) are settled before the checkpoint is written: when one failed, the
 * transaction is undone and the events before its event are handled again in one of their own (their reactions,
 * done already, are found done), so what is committed is what one reaction at a time would have left, and the
 * failure surfaces.
 */
const reactInOneTransaction = async (
  db: Database.Database,
  projection: Projection,
  react: NonNullable<Projection['react']>,
  batch: PendingBatch,
  limits: ReactionBatchLimits,
  checkpointable: Checkpointable,
): Promise<number> => {
  const { records, decoded } = batch;
  const savepoint = prepared(db, 'SAVEPOINT credence_event');
  const release = prepared(db, 'RELEASE credence_event');
  const undo = prepared(db, 'ROLLBACK TO credence_event');
  const inFlight = new ReactionsInFlight();
  const opened = performance.now();
  let i = 0;
  let failed: Failed | undefined;
  prepared(db, 'BEGIN').run();
  try {
    while (i < records.length) {
      const event = decoded[i];
      if (event !== undefined) {
        savepoint.run();
        try {
          const left = await react.call(projection, event);
          if (left !== undefined) inFlight.add(i, left);
          projection.apply?.(db, event);
          release.run();
        } catch (error) {
          if (db.inTransaction) {
            undo.run();
            release.run();
          }
          throw error;
        }
      }
      i++;
      if (i >= limits.maxEvents || performance.now() - opened >= limits.maxMs || inFlight.size >= MAX_IN_FLIGHT) break;
    }
    const settling = inFlight.firstFailure();
    failed = settling === undefined ? undefined : await settling;
    if (failed === undefined) {
      writeOwnCheckpoint(db, projection.name, records, i, checkpointable);
      prepared(db, 'COMMIT').run();
      return i;
    }
    prepared(db, 'ROLLBACK').run();
  } catch (error) {
    // The reactions still in flight first: an earlier event's failure is the one to surface, with the events before it.
    const settling = inFlight.firstFailure();
    failed = settling === undefined ? undefined : await settling;
    if (failed === undefined || failed.index >= i) {
      // Keep what the events before the failing one did, with their checkpoint; undo everything if even that fails.
      try {
        if (db.inTransaction && i > 0) {
          writeOwnCheckpoint(db, projection.name, records, i, checkpointable);
          prepared(db, 'COMMIT').run();
        }
      } finally {
        if (db.inTransaction) prepared(db, 'ROLLBACK').run();
      }
      throw error;
    }
    if (db.inTransaction) prepared(db, 'ROLLBACK').run();
  }
  return handledBefore(failed, db, projection, react, batch, checkpointable);
};

/**
 * The events before `failed`'s handled again in a transaction of their own (none when it is the first); then its
 * failure, unless it is a reaction to run in its turn (ReactionInTurn): then how many were handled, and the caller
 * goes on from that event.
 */
const handledBefore = async (
  failed: Failed,
  db: Database.Database,
  projection: Projection,
  react: NonNullable<Projection['react']>,
  batch: PendingBatch,
  checkpointable: Checkpointable,
): Promise<number> => {
  const handled = failed.index === 0 ? 0 : await reactInOneTransaction(db, projection, react, batch, { maxEvents: failed.index, maxMs: Number.POSITIVE_INFINITY }, checkpointable);
  if (failed.error instanceof ReactionInTurn) return handled;
  throw failed.error;
};
