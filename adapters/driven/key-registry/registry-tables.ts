import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { damagedDatabase } from '../../../domain/errors.ts';
import { remedyFor } from '../files/damaged-database.ts';
import { readOnlyDatabase } from '../files/read-only-database.ts';
import { preparePrivateDir, tightenPrivateDatabaseFile } from '../files/index.ts';

/** A registry file's name and its tables: for each, the schema version that first made it and what it holds. */
export interface RegistryTables {
  readonly file: string;
  readonly tables: Readonly<Record<string, { readonly since: number; readonly holds: string }>>;
}

interface Found {
  readonly version: number;
  readonly tables: ReadonlySet<string>;
  readonly objects: number;
}

/**
 * What the file holds, read on a read-only connection of its own (a file refused is left byte for byte), after the
 * transaction a kill interrupted, if any, is rolled back (read-only-database.ts).
 */
const read = (path: string): Found =>
  readOnlyDatabase(path, (db) => {
    const names = db.prepare(`SELECT type, name FROM sqlite_master`).all() as { type: string; name: string }[];
    return {
      version: Number(db.pragma('user_version', { simple: true })),
      tables: new Set(names.filter((n) => n.type === 'table').map((n) => n.name)),
      objects: names.length,
    };
  });

/**
 * Refuses `<dir>/<file>` when a table the version that wrote it made is missing, read-only and before the opener
 * creates what is missing (its schema is `CREATE TABLE IF NOT EXISTS`): a registry whose table was dropped, or a file
 * replaced by another SQLite database (a wrong restore), would open as an empty registry, and every key it bound look
 * unbound (new signing keys the devices do not pin, new pseudonyms, keys the shredder no longer finds).
 * Every version made its tables in the transaction that set `user_version`, so only a file holding nothing is new:
 * absent, or zero-length (an earlier version's opener made it empty, 0600, before SQLite wrote to it). One of a page or
 * more with no schema at all is refused too: it is what a copy without its -wal leaves, the bindings being in the -wal.
 * An earlier version's first start killed between its journal mode and its schema left the same page; this one makes
 * the file whole or not at all (private-sqlite.ts), so the remedy names that case as an earlier version's.
 */
export const refuseRegistryMissingTables = (dir: string, { file, tables }: RegistryTables): void => {
  preparePrivateDir(dir);
  const path = join(dir, file);
  if (!existsSync(path)) return;
  // Another account's file is refused as such before it is read.
  tightenPrivateDatabaseFile(path);
  const found = read(path);
  // A newer version's file is the opener's to refuse, as newer: its tables are not ours to know.
  if (found.version > Math.max(...Object.values(tables).map((t) => t.since))) return;
  const made = Math.max(found.version, 1);
  const missing = Object.entries(tables).filter(([table, { since }]) => since <= made && !found.tables.has(table));
  if (missing.length === 0) return;
  const nothing = found.objects === 0 && found.version === 0;
  if (nothing && statSync(path).size === 0) return;
  const names = missing.map(([table]) => table);
  const version = found.version > 0 ? ` of schema version ${found.version}` : '';
  const holds = missing.map(([, t]) => t.holds).join(', nor ');
  const detail = nothing
    ? `no table at all and no schema version, as a copy made without its -wal: ${holds} is unknown`
    : `no ${names.join(' nor ')} table, which every ${file}${version} is made with: ${holds} is unknown`;
  const remedy = nothing
    ? `${remedyFor(file)}; only if this data folder is new and its first start stopped before making the table, move ${file} aside (with its -wal and -shm) and start again (only a first start of an earlier version stops there)`
    : remedyFor(file);
  throw damagedDatabase(path, file, detail, remedy);
};
