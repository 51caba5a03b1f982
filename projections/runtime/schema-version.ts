import type Database from 'better-sqlite3';
import { deleteCheckpoint, setupCheckpoints } from './checkpoints.ts';
import { prepared } from './statements.ts';

/** A read model found written under another schema version than the code's, and dropped for a rebuild. */
export interface SchemaChange {
  readonly name: string;
  /** The version that wrote the file: greater than `version` when an older Credence opens a newer one's file. */
  readonly stored: number;
  readonly version: number;
}

/**
 * The changes each connection's ensureSchemaVersion made, until the process that opened it takes them
 * (takeSchemaChanges): setup has no logger, and a rebuild at upgrade must not pass unsaid (review 51).
 */
const unsaid = new WeakMap<Database.Database, SchemaChange[]>();

/**
 * The shape of each projection's tables, by version. Read models are disposable: when a projection's tables change
 * shape, a read-model file written by an earlier version has its tables dropped and its checkpoint deleted, so
 * the next catch-up rebuilds it from position 0 (instead of failing on a missing column or reading stale rows).
 * A file written by a later version (a downgrade) is rebuilt the same way: its tables may hold columns or meanings
 * this version does not know. Either is kept for takeSchemaChanges, so that it is said once.
 * In one immediate transaction, so two processes opening the same file cannot both migrate it.
 */
export const ensureSchemaVersion = (db: Database.Database, projection: string, version: number, tables: readonly string[]): void => {
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError('version: must be a whole number >= 1');
  setupProjectionSchemas(db);
  const migrate = db.transaction((): SchemaChange | undefined => {
    const stored = storedSchemaVersion(db, projection);
    if (stored === version) return undefined;
    for (const table of tables) db.exec(`DROP TABLE IF EXISTS "${table.replaceAll('"', '""')}"`);
    deleteCheckpoint(db, projection);
    recordSchemaVersion(db, projection, version);
    // A file without the row is new (or older than versions): nothing built under another version is dropped.
    return stored === undefined ? undefined : { name: projection, stored, version };
  });
  const change = db.inTransaction ? migrate() : migrate.immediate();
  if (change !== undefined) noteRebuild(db, change);
};

/** The checkpoints and the table of each read model's schema version (ensureSchemaVersion's, and the `pki` one's). */
export const setupProjectionSchemas = (db: Database.Database): void => {
  setupCheckpoints(db);
  db.exec(`CREATE TABLE IF NOT EXISTS projection_schemas (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  ) WITHOUT ROWID`);
};

/** The schema version `projection`'s tables were written under, as its row says; undefined without one. */
export const storedSchemaVersion = (db: Database.Database, projection: string): number | undefined => {
  const row = prepared(db, 'SELECT version FROM projection_schemas WHERE name = ?').get(projection) as { version: bigint | number } | undefined;
  return row === undefined ? undefined : Number(row.version);
};

export const recordSchemaVersion = (db: Database.Database, projection: string, version: number): void => {
  prepared(db, 'INSERT INTO projection_schemas (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version').run(projection, version);
};

/**
 * A read model its own setup emptied for a rebuild at upgrade, by markers of its own rather than ensureSchemaVersion
 * (the `pki` read model, projections/pki/tables.ts): kept for takeSchemaChanges as those are, so it is said (review 51).
 */
export const noteRebuild = (db: Database.Database, change: SchemaChange): void => {
  unsaid.set(db, [...(unsaid.get(db) ?? []), change]);
};

/** The schema changes ensureSchemaVersion made on `db` since the last call: each is handed out once. */
export const takeSchemaChanges = (db: Database.Database): SchemaChange[] => {
  const changes = unsaid.get(db) ?? [];
  unsaid.delete(db);
  return changes;
};

/**
 * One line for a log: the versions and how many events the rebuild reads (`events`, counted up to a bound: `atLeast`
 * when it was reached). A newer file is said apart: going back to the newer version rebuilds it once more.
 */
export const describeSchemaChange = (c: SchemaChange, events: number, atLeast = false): string => {
  const count = `${atLeast ? 'at least ' : ''}${events} events`;
  return c.stored > c.version
    ? `${c.name}: written by a newer Credence (version ${c.stored}): rebuilt under version ${c.version} from the events (${count}); upgrading again rebuilds it again`
    : c.stored === c.version
      ? // Tables of this version whose version was not recorded, or that an earlier Credence wrote since (pki, review 414).
        `${c.name}: its version was not recorded (written before it was kept, or an earlier Credence ran it since): rebuilding from the events (${count})`
      : `${c.name}: written by version ${c.stored}, this is version ${c.version}: rebuilding from the events (${count})`;
};
