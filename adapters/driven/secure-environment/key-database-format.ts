import type Database from 'better-sqlite3';
import type { CredenceError } from '../../../domain/errors.ts';
import { newerFileVersion } from '../files/newer-file-version.ts';

/** The key database's layout this build writes (`se_meta.format`): 2, each key under its own wrapping key. */
export const KEY_DATABASE_FORMAT = 2;

/**
 * A key database of a format above this build's, refused as every data file a newer version wrote is (review 198: it
 * was "wrappingKeys: unknown key database format 3", naming the wrong file and not why). `path`: the key database.
 */
export const newerKeyDatabase = (path: string, found: number): CredenceError =>
  newerFileVersion(path, 'Secure Environment key database', found, KEY_DATABASE_FORMAT);

/** The stored format as a number: the one byte this build writes, or an integer a later one might. */
const formatOf = (value: unknown): number | undefined => {
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  return value instanceof Uint8Array && value.length === 1 ? value[0] : undefined;
};

/**
 * Refuses the key database `db` holds (opened, nothing else done yet) when a newer version wrote it: checked before
 * its tables are set up, a column added or the wrapping-key file made, so that nothing is written to a layout only
 * that version knows. A database without `se_meta` (a new one) or of this format or an older one passes.
 */
export const refuseNewerKeyDatabase = (db: Database.Database, path: string): void => {
  const table = db.prepare("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'se_meta'").get();
  if (table === undefined) return;
  const row = db.prepare("SELECT value FROM main.se_meta WHERE name = 'format'").get() as { value: unknown } | undefined;
  const found = formatOf(row?.value);
  if (found !== undefined && found > KEY_DATABASE_FORMAT) throw newerKeyDatabase(path, found);
};
