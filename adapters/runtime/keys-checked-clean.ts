import { dirname } from 'node:path';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { entityKeysDestroyed, type EntityKeysDestroyed } from '../driven/key-registry/destroyed-keys.ts';
import type { ReadModelDb } from '../driven/readmodels/index.ts';
import { notInLog, readCheckpoint, writeLockOf } from '../../projections/runtime/index.ts';

type Checkpoint = NonNullable<ReturnType<typeof readCheckpoint>>;

/** The read model the check of keys.db against the log reads (keys-destroyed-of-live-entities.ts). */
const ENTITIES = 'entities';
const TABLE = 'keys_checked_clean';
const TRIGGER = 'keys_checked_clean_owed_again';
/** A column the record has had since review 286: a record without it (an earlier version's) is not kept. */
const KEYS_DESTROYED = 'keys_destroyed';

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
    occurred_at TEXT NOT NULL,
    ${KEYS_DESTROYED} INTEGER NOT NULL,
    keys_destroyed_latest TEXT
  );
  CREATE TRIGGER IF NOT EXISTS ${TRIGGER} AFTER DELETE ON projection_checkpoints WHEN old.name = '${ENTITIES}'
  BEGIN DELETE FROM ${TABLE}; END;`;

/** The entities read model's checkpoint: where a check that starts now reads it from. */
export const entitiesCheckpoint = (db: ReadModelDb): Checkpoint | undefined => readCheckpoint(db, ENTITIES);

interface KeysCheckRecord {
  readonly position: bigint;
  readonly event_id: string;
  readonly occurred_at: string;
  readonly keys_destroyed: bigint | number;
  readonly keys_destroyed_latest: string | null;
}

const recordOf = (db: ReadModelDb): KeysCheckRecord | undefined => {
  // Both or nothing: a record without its trigger would outlive a reset. And one of the shape that names keys.db's
  // destructions: an earlier version's would take a readmodels.db restored with events.db as checked (review 286).
  const objects = db
    .prepare(
      `SELECT count(*) AS n FROM sqlite_master WHERE (type = 'table' AND name = ?) OR (type = 'trigger' AND name = ?)
       UNION ALL SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`,
    )
    .all(TABLE, TRIGGER, TABLE, KEYS_DESTROYED) as { n: bigint | number }[];
  if (Number(objects[0]?.n) !== 2 || Number(objects[1]?.n) !== 1) return undefined;
  return db.prepare(`SELECT position, event_id, occurred_at, ${KEYS_DESTROYED}, keys_destroyed_latest FROM ${TABLE}`).get() as KeysCheckRecord | undefined;
};

/**
 * What keys.db beside readmodels.db (the same data folder: open-credence.ts opens both from it) holds destroyed now.
 * Read models in memory have no folder, and nothing to restore: none.
 */
const keysDestroyedNow = (db: ReadModelDb, after?: string): EntityKeysDestroyed | undefined =>
  db.memory ? { count: 0, latest: undefined, after: 0 } : entityKeysDestroyed(dirname(db.name), after);

/**
 * The check owed at a start: of every key keys.db holds destroyed, or (`destroyedAfter`) only of those destroyed after
 * that instant, when the check found none before it and every key destroyed since is later than it.
 */
export interface KeysCheckOwed {
  readonly destroyedAfter?: string;
}

/**
 * Whether the check of keys.db against the log is owed at this start: unless one found nothing on this log, as far as
 * the entities read model has read it since (review 137). Skipped only when the record of that check is kept, the
 * read model is not behind its position, and the store still holds the event it names there, as the projection
 * runner tells a read model of another log (projections/runtime/log-check.ts): one read of the record, one record
 * read from the store. A restored `events.db`, `readmodels.db` deleted or rebuilt, a start stopped before it had
 * checked, a check that named any: owed, at every start until one finds nothing.
 * Nor when keys.db holds destroyed other keys than when the record was written (review 286): `readmodels.db` restored
 * from the same backup as `events.db` brings back a record and a checkpoint matching the restored log, while the
 * revocations since, lost from it, destroyed keys keys.db still holds destroyed: those are checked (KeysCheckOwed).
 * One more read, of keys.db's index. Undefined when none is owed.
 */
export const keysCheckOwed = async (db: ReadModelDb, store: EventStore): Promise<KeysCheckOwed | undefined> => {
  const record = recordOf(db);
  if (record === undefined) return {};
  const position = BigInt(record.position);
  const checkpoint = entitiesCheckpoint(db);
  if (checkpoint === undefined || checkpoint.position < position) return {};
  if ((await notInLog(store, ENTITIES, position, { id: record.event_id, occurredAt: record.occurred_at })) !== undefined) return {};
  const latest = record.keys_destroyed_latest ?? undefined;
  const destroyed = keysDestroyedNow(db, latest);
  if (destroyed === undefined) return {};
  if (destroyed.count === Number(record.keys_destroyed) && destroyed.latest === latest) return undefined;
  // Keys destroyed since the check, all later than what it had seen: only those are checked. The live service's
  // shredder destroys keys as entities end, so a full pass at every start after one would cost a read-model lookup
  // for every key ever destroyed (review 137 made the check owed once a restore only, for that cost). Otherwise (a
  // keys.db put back, a clock stepped back): every key.
  return latest !== undefined && destroyed.count === Number(record.keys_destroyed) + destroyed.after ? { destroyedAfter: latest } : {};
};

/**
 * Records what a check which read the entities read model from `checkpoint` on found. None (`clean`): none is owed
 * again while the read model follows this log. Any: an earlier record is forgotten, so that the check stays owed
 * whatever the read model reads next. A checkpoint without its event's id (written before ids were kept) records
 * nothing: the next start checks again. What keys.db holds destroyed is read after the check: a key destroyed since
 * is one of an ending the read model follows, or it makes the check owed at the next start.
 */
export const recordKeysCheck = async (db: ReadModelDb, checkpoint: Checkpoint | undefined, clean: boolean): Promise<void> => {
  const eventId = checkpoint?.eventId;
  const destroyed = clean ? keysDestroyedNow(db) : undefined;
  // On the live runtime's connection: after any batch transaction open on it, never inside one.
  await writeLockOf(db).run(() =>
    db.transaction(() => {
      const kept = recordOf(db) !== undefined;
      // A reset since the check read the read model (its checkpoint deleted, or rebuilt short of it): no clean record.
      const now = entitiesCheckpoint(db);
      if (!clean || destroyed === undefined || checkpoint === undefined || eventId === undefined || now === undefined || now.position < checkpoint.position) {
        if (kept) db.prepare(`DELETE FROM ${TABLE}`).run();
        return;
      }
      // An earlier version's table, without the columns: made again (its trigger stays, and deletes from this one).
      if (!kept) db.exec(`DROP TABLE IF EXISTS ${TABLE}`);
      db.exec(SETUP);
      db.prepare(
        `INSERT INTO ${TABLE} (one, position, event_id, occurred_at, ${KEYS_DESTROYED}, keys_destroyed_latest) VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT(one) DO UPDATE SET position = excluded.position, event_id = excluded.event_id, occurred_at = excluded.occurred_at,
           ${KEYS_DESTROYED} = excluded.${KEYS_DESTROYED}, keys_destroyed_latest = excluded.keys_destroyed_latest`,
      ).run(checkpoint.position, eventId, checkpoint.occurredAt, destroyed.count, destroyed.latest ?? null);
    }).immediate(),
  );
};
