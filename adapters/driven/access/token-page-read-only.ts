import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { newerFileVersion } from '../files/newer-file-version.ts';
import { readOnlyDatabase } from '../files/read-only-database.ts';
import { asUnwritableDatabase } from '../files/unwritable-folder.ts';
import type { TokenPage } from './access-registry.ts';
import { LEGACY_SIGNING_KEY_SETTING } from './access-schema.ts';
import { toTokenRecord, type TokenRow } from './access-statements.ts';
import { ACCESS_DB_FILE } from './sqlite-access-registry.ts';

/**
 * The newest version of access.db's schema (access-schema.ts) this reader was written for. Not imported from there, on
 * purpose, as signing-key-handles.ts: raising that version without reviewing this reader fails a test.
 */
const NEWEST_READ = 4;

const hasTable = (db: Database.Database, name: string): boolean =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;

/** A row of any version up to NEWEST_READ as this one reads it: a column an older version had not added yet is null. */
const rowOf = (raw: Record<string, unknown>, legacyKey: string | null): TokenRow =>
  ({
    issued_with: null,
    scope: null,
    ...raw,
    // Before version 3 one signing key signed every token (the registry's upgrade records it so).
    signed_with: (raw['signed_with'] as string | null | undefined) ?? legacyKey,
  }) as TokenRow;

const pageOf = (db: Database.Database, path: string, args: Parameters<typeof readTokenPage>[1]): TokenPage => {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > NEWEST_READ) throw newerFileVersion(path, 'access registry', version, NEWEST_READ);
  // A file made whose schema was never written (its next writable open writes it): no token recorded.
  if (!hasTable(db, 'tokens')) return { tokens: [] };
  const legacy =
    !hasTable(db, 'signing_keys') && hasTable(db, 'settings')
      ? ((db.prepare(`SELECT value FROM settings WHERE name = ?`).get(LEGACY_SIGNING_KEY_SETTING) as { value: string } | undefined)?.value ?? null)
      : null;
  const from = args.after === undefined ? 0 : Number.parseInt(args.after, 10);
  // As the registry's `list` (its statement `page`): one extra row says whether another page follows.
  const rows = db
    .prepare(`SELECT * FROM tokens WHERE seq > ? AND (? = 1 OR expires_at > ?) ORDER BY seq LIMIT ?`)
    .all(Number.isSafeInteger(from) ? from : 0, args.includeExpired ? 1 : 0, args.now.toISOString(), args.limit + 1) as Record<string, unknown>[];
  const page = rows.slice(0, args.limit).map((raw) => rowOf(raw, legacy));
  return { tokens: page.map(toTokenRecord), ...(rows.length > args.limit ? { next: String(page[page.length - 1]!.seq) } : {}) };
};

/**
 * A page of the tokens `<dataDir>/access.db` records, as the registry's `list` gives it, read-only and without its
 * Secure Environment: a listing needs no key (no token is signed or verified), so it reads a folder whatever its KEK
 * (review 131: README's whole-folder restore lists the folder moved aside, whose KEK, after a `credence kek rotate`
 * since the backup, may be in no file the service is given). The registry's own opener would write (its journal mode,
 * the upgrade of an older file); a file of any version up to this one's is read as that version left it, a newer one
 * refused (`schema_version`). None when there is no access.db.
 */
export const readTokenPage = (
  dataDir: string,
  args: { readonly limit: number; readonly after?: string; readonly includeExpired: boolean; readonly now: Date },
): TokenPage => {
  const path = join(dataDir, ACCESS_DB_FILE);
  if (!existsSync(path)) return { tokens: [] };
  try {
    return readOnlyDatabase(path, (db) => pageOf(db, path, args));
  } catch (error) {
    // Beside an -shm it may not write (a read-only copy a killed service left), SQLite's refusal names no file.
    throw asUnwritableDatabase(path, error);
  }
};
