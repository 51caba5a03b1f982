import type { EventStore } from '../../domain/ports/event-store.ts';
import type { ReadModelDb } from '../driven/readmodels/index.ts';
import { notInLog, readCheckpoint, writeLockOf } from '../../projections/runtime/index.ts';

type Checkpoint = NonNullable<ReturnType<typeof readCheckpoint>>;

/** The read model the check of keys.db against the log reads (keys-destroyed-of-live-entities.ts). */
const ENTITIES = 'entities';
const TABLE = 'keys_checked_clean';
const TRIGGER = 'keys_checked_clean_owed_again';

/**
 * A reset of the entities read model deletes its checkpoint (the runner's reset, a schema change), in whichever
 * process: a local `credence query` run after a restore, or a start stopped mid-rebuild. The record goes with it, so
 * the next start checks: a log restored from a backup taken after the clean check still holds its event, and a read
 * model rebuilt from it reaches past its position, so the record alone would not tell that log from the one checked.
 */
const SETUP = `CREATE TABLE IF NOT EXISTS ${TABLE} (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    position INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL
  );
  CREATE TRIGGER IF NOT EXISTS ${TRIGGER} AFTER DELETE ON projection_checkpoints WHEN old.name = '${ENTITIES}'
  BEGIN DELETE FROM ${TABLE}; END;`;

/** The entities read model's checkpoint: where a check that starts now reads it from. */
export const entitiesCheckpoint = (db: ReadModelDb): Checkpoint | undefined => readCheckpoint(db, ENTITIES);

const recordOf = (db: ReadModelDb): { position: bigint; event_id: string; occurred_at: string } | undefined => {
  // Both or nothing: a record without its trigger would outlive a reset.
  const objects = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE (type = 'table' AND name = ?) OR (type = 'trigger' AND name = ?)`).get(TABLE, TRIGGER) as {
    n: bigint | number;
  };
  if (Number(objects.n) !== 2) return undefined;
  return db.prepare(`SELECT position, event_id, occurred_at FROM ${TABLE}`).get() as { position: bigint; event_id: string; occurred_at: string } | undefined;
};

/**
 * Whether the check of keys.db against the log is owed at this start: unless one found nothing on this log, as far as
 * the entities read model has read it since (review 137). Skipped only when the record of that check is kept, the
 * read model is not behind its position, and the store still holds the event it names there, as the projection
 * runner tells a read model of another log (projections/runtime/log-check.ts): one read of the record, one record
 * read from the store. A restored `events.db`, `readmodels.db` deleted or rebuilt, a start stopped before it had
 * checked, a check that named any: owed, at every start until one finds nothing.
 */
export const keysCheckOwed = async (db: ReadModelDb, store: EventStore): Promise<boolean> => {
  const record = recordOf(db);
  if (record === undefined) return true;
  const position = BigInt(record.position);
  const checkpoint = entitiesCheckpoint(db);
  if (checkpoint === undefined || checkpoint.position < position) return true;
  return (await notInLog(store, ENTITIES, position, { id: record.event_id, occurredAt: record.occurred_at })) !== undefined;
};

/**
 * Records what a check which read the entities read model from `checkpoint` on found. None (`clean`): none is owed
 * again while the read model follows this log. Any: an earlier record is forgotten, so that the check stays owed
 * whatever the read model reads next. A checkpoint without its event's id (written before ids were kept) records
 * nothing: the next start checks again.
 */
export const recordKeysCheck = async (db: ReadModelDb, checkpoint: Checkpoint | undefined, clean: boolean): Promise<void> => {
  const eventId = checkpoint?.eventId;
  // On the live runtime's connection: after any batch transaction open on it, never inside one.
  await writeLockOf(db).run(() =>
    db.transaction(() => {
      const kept = recordOf(db) !== undefined;
      // A reset since the check read the read model (its checkpoint deleted, or rebuilt short of it): no clean record.
      const now = entitiesCheckpoint(db);
      if (!clean || checkpoint === undefined || eventId === undefined || now === undefined || now.position < checkpoint.position) {
        if (kept) db.prepare(`DELETE FROM ${TABLE}`).run();
        return;
      }
      db.exec(SETUP);
      db.prepare(
        `INSERT INTO ${TABLE} (one, position, event_id, occurred_at) VALUES (1, ?, ?, ?)
         ON CONFLICT(one) DO UPDATE SET position = excluded.position, event_id = excluded.event_id, occurred_at = excluded.occurred_at`,
      ).run(checkpoint.position, eventId, checkpoint.occurredAt);
    }).immediate(),
  );
};
