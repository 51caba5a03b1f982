import type Database from 'better-sqlite3';
import { deleteCheckpoint, setupCheckpoints } from './checkpoints.ts';
import { prepared } from './statements.ts';

/**
 * The shape of each projection's tables, by version. Read models are disposable: when a projection's tables change
 * shape, a read-model file written by an earlier version has its tables dropped and its checkpoint deleted, so
 * the next catch-up rebuilds it from position 0 (instead of failing on a missing column or reading stale rows).
 * In one immediate transaction, so two processes opening the same file cannot both migrate it.
 */
export const ensureSchemaVersion = (db: Database.Database, projection: string, version: number, tables: readonly string[]): void => {
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError('version: must be a whole number >= 1');
  setupCheckpoints(db);
  db.exec(`CREATE TABLE IF NOT EXISTS projection_schemas (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  ) WITHOUT ROWID`);
  const migrate = db.transaction(() => {
    const row = prepared(db, 'SELECT version FROM projection_schemas WHERE name = ?').get(projection) as { version: bigint | number } | undefined;
    if (row !== undefined && Number(row.version) === version) return;
    for (const table of tables) db.exec(`DROP TABLE IF EXISTS "${table.replaceAll('"', '""')}"`);
    deleteCheckpoint(db, projection);
    prepared(db, 'INSERT INTO projection_schemas (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version').run(
      projection,
      version,
    );
  });
  if (db.inTransaction) migrate();
  else migrate.immediate();
};
