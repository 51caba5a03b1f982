import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readOnlyDatabase } from '../files/read-only-database.ts';
import { KEY_REGISTRY_DB_FILE } from './sqlite-key-registry.ts';

/**
 * What keys.db holds destroyed of the keys credentials and associations confirmed as their own (`pending = 0`: only
 * the shredder destroys those, when the entity ends): how many, and the latest `destroyed_at`. A destruction only adds
 * to it, so a file that holds another count or a later instant than one read before has destroyed keys since.
 */
export interface EntityKeysDestroyed {
  readonly count: number;
  /** ISO 8601, undefined when none is destroyed. */
  readonly latest: string | undefined;
  /** How many of them were destroyed after the instant asked about (`after`), all of them when none was asked. */
  readonly after: number;
}

/** The primary key's range for each prefix ('.' follows '-'): one index range each, no pass over other keys. */
const DESTROYED = `SELECT count(*) AS count, max(destroyed_at) AS latest, coalesce(sum(destroyed_at > ?), 0) AS after FROM se_key_handles
  WHERE destroyed_at IS NOT NULL AND pending = 0
    AND ((stream >= 'credential-' AND stream < 'credential.') OR (stream >= 'association-' AND stream < 'association.'))`;

/**
 * keys.db's EntityKeysDestroyed, read-only on a connection of its own (the registry's writer is left alone): none when
 * the folder has no keys.db. Undefined when the file has no bindings table: what it destroyed is unknown.
 */
export const entityKeysDestroyed = (dataDir: string, after?: string): EntityKeysDestroyed | undefined => {
  const path = join(dataDir, KEY_REGISTRY_DB_FILE);
  if (!existsSync(path)) return { count: 0, latest: undefined, after: 0 };
  return readOnlyDatabase(path, (db) => {
    if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'se_key_handles'`).get() === undefined) return undefined;
    // '' sorts before every instant: all of them.
    const row = db.prepare(DESTROYED).get(after ?? '') as { count: number | bigint; latest: string | null; after: number | bigint };
    return { count: Number(row.count), latest: row.latest ?? undefined, after: Number(row.after) };
  });
};
