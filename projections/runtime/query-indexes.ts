import type Database from 'better-sqlite3';
import { writeLockOf } from './batch.ts';
import { readCheckpoint } from './checkpoints.ts';
import type { Projection } from './types.ts';

const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Drops the query indexes of the projections a long catch-up takes from position 0 (no checkpoint yet) and returns
 * them; `restoreQueryIndexes` builds them again when the catch-up ends, however it ends. A process that stops in
 * between gets them back from `setup` (CREATE INDEX IF NOT EXISTS) when it next opens the read models.
 */
export const deferQueryIndexes = async (db: Database.Database, projections: readonly Projection[]): Promise<readonly Projection[]> =>
  writeLockOf(db).run(() => {
    const fromStart = projections.filter((p) => (p.queryIndexes?.length ?? 0) > 0 && readCheckpoint(db, p.name) === undefined);
    if (fromStart.length > 0) {
      db.transaction(() => {
        for (const p of fromStart) for (const index of p.queryIndexes!) db.exec(`DROP INDEX IF EXISTS ${quoted(index.name)}`);
      })();
    }
    return fromStart;
  });

export const restoreQueryIndexes = async (db: Database.Database, projections: readonly Projection[]): Promise<void> => {
  if (projections.length === 0) return;
  await writeLockOf(db).run(() => {
    db.transaction(() => {
      for (const p of projections) for (const index of p.queryIndexes!) db.exec(index.create);
    })();
  });
};
