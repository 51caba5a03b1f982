import type Database from 'better-sqlite3';
import type { DecodedEvent } from '../../domain/stored.ts';
import type { RecordedEvent } from '../../domain/ports/event-store.ts';
import { writeCheckpoint, type Checkpoint } from './checkpoints.ts';
import { prepared } from './statements.ts';
import type { Projection } from './types.ts';

/**
 * One writer at a time on a read-model connection. A batch whose reactions are awaited keeps its transaction open
 * across those awaits; any other batch run meanwhile on the same connection would land inside it (and be undone
 * with it), so every batch of every runner on the connection takes this lock first. FIFO: per projection, batches
 * still run in the order they were asked for.
 */
class WriteLock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

const locks = new WeakMap<Database.Database, WriteLock>();

export const writeLockOf = (db: Database.Database): WriteLock => {
  let lock = locks.get(db);
  if (lock === undefined) {
    lock = new WriteLock();
    locks.set(db, lock);
  }
  return lock;
};

export const checkpointOf = (record: RecordedEvent): Checkpoint => ({
  position: record.position,
  occurredAt: String((record.metadata as Record<string, unknown>)['occurredAt'] ?? ''),
  eventId: record.id,
});

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
export const applyBatch = (db: Database.Database, projection: Projection, records: readonly RecordedEvent[], events: DecodedBatch): void => {
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
    writeCheckpoint(db, projection.name, checkpointOf(records[records.length - 1]!));
  })();
};

export interface ReactionBatchLimits {
  /** Events per transaction at most. */
  readonly maxEvents: number;
  /** A transaction is committed once it has been open this long (ms), at the next event boundary. */
  readonly maxMs: number;
}

/**
 * A projection with reactions, in order, many events per transaction: for each event its reaction (awaited), then
 * its `apply`, each event inside a savepoint. A reaction reads what the events before it wrote, as it did with one
 * transaction per event: same connection, same transaction. The checkpoint is written in the transaction that
 * applies the events it covers, so a crash at any instant leaves the read model and the checkpoint together, and
 * the reactions after the checkpoint run again (their derived command ids make the repeat a no-op).
 *
 * When an event fails (its reaction or its `apply`), its savepoint is rolled back and the events before it are
 * committed with their checkpoint, exactly what one transaction per event would have left; the error surfaces and
 * the next run starts at the failing event, so a reaction that keeps failing never makes the runner redo (or
 * re-issue) the ones that succeeded before it.
 */
export const reactInBatches = async (
  db: Database.Database,
  projection: Projection,
  records: readonly RecordedEvent[],
  decoded: DecodedBatch,
  limits: ReactionBatchLimits,
): Promise<void> => {
  const react = projection.react;
  if (react === undefined) throw new TypeError(`projection ${projection.name} has no reactions`);
  if (db.inTransaction) throw new Error(`projection ${projection.name}: a transaction is already open on the read-model connection`);
  if (projection.prepare !== undefined) {
    const events: DecodedEvent[] = [];
    for (const event of decoded) if (event !== undefined) events.push(event);
    await projection.prepare(events);
  }
  const begin = prepared(db, 'BEGIN');
  const commit = prepared(db, 'COMMIT');
  const rollback = prepared(db, 'ROLLBACK');
  const savepoint = prepared(db, 'SAVEPOINT credence_event');
  const release = prepared(db, 'RELEASE credence_event');
  const undo = prepared(db, 'ROLLBACK TO credence_event');
  let i = 0;
  while (i < records.length) {
    const opened = performance.now();
    let last: RecordedEvent | undefined;
    begin.run();
    try {
      for (let n = 0; i < records.length; ) {
        const record = records[i]!;
        const event = decoded[i];
        if (event !== undefined) {
          savepoint.run();
          try {
            await react.call(projection, event);
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
        last = record;
        i++;
        if (++n >= limits.maxEvents || performance.now() - opened >= limits.maxMs) break;
      }
      writeCheckpoint(db, projection.name, checkpointOf(last!));
      commit.run();
    } catch (error) {
      // Keep what the events before the failing one did, with their checkpoint; undo everything if even that fails.
      try {
        if (db.inTransaction && last !== undefined) {
          writeCheckpoint(db, projection.name, checkpointOf(last));
          commit.run();
        }
      } finally {
        if (db.inTransaction) rollback.run();
      }
      throw error;
    }
  }
};
