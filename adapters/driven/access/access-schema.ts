import type Database from 'better-sqlite3';
import type { PrivateSqliteOptions } from '../files/index.ts';

/**
 * Version 2: the token a token was issued with (`issued_with`), whose revocation ends it too. Version 3: the signing
 * keys (`signing_keys`, the current one and those retired while tokens they signed may still be live) and the key
 * each token was signed with (`signed_with`). Version 4: the stakeholders an integrator token's stream is limited
 * to (`scope`, JSON; SER-025), none for a token of the whole fleet.
 */
const SCHEMA_VERSION = 4;
const SIGNING_KEYS = `
CREATE TABLE IF NOT EXISTS signing_keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  handle TEXT NOT NULL UNIQUE,
  since TEXT,
  retired_at TEXT,
  retired_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS signing_keys_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;`;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tokens (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  token_id TEXT NOT NULL UNIQUE,
  subject TEXT NOT NULL,
  role TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  issued_by TEXT NOT NULL,
  revoked_at TEXT,
  revoked_by TEXT,
  issued_with TEXT,
  signed_with TEXT,
  scope TEXT
);
CREATE INDEX IF NOT EXISTS tokens_issued_with ON tokens (issued_with) WHERE issued_with IS NOT NULL;
CREATE INDEX IF NOT EXISTS tokens_signed_with ON tokens (signed_with);
CREATE INDEX IF NOT EXISTS tokens_live_by_subject ON tokens (subject, expires_at) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;${SIGNING_KEYS}`;

/** The one signing key before version 3, in `settings` (signing-key-handles.ts reads it there too). */
export const LEGACY_SIGNING_KEY_SETTING = 'signing-key';

/**
 * Tokens issued before version 2 name no token they were issued with: on the command line, or unknown. Before
 * version 3 there was one signing key, in `settings`: it becomes the current key (since when is not known), and
 * every token recorded was signed with it. Tokens issued before version 4 have no scope: the whole fleet, as then.
 */
const upgrade = (db: Database.Database, found: number): void => {
  if (found < 2) db.exec('ALTER TABLE tokens ADD COLUMN issued_with TEXT');
  if (found < 3) {
    db.exec(`ALTER TABLE tokens ADD COLUMN signed_with TEXT;${SIGNING_KEYS}`);
    const kept = (db.prepare(`SELECT value FROM settings WHERE name = ?`).get(LEGACY_SIGNING_KEY_SETTING) as { value: string } | undefined)?.value;
    if (kept !== undefined) {
      db.prepare(`INSERT INTO signing_keys (handle) VALUES (?)`).run(kept);
      db.prepare(`UPDATE tokens SET signed_with = ?`).run(kept);
      db.prepare(`DELETE FROM settings WHERE name = ?`).run(LEGACY_SIGNING_KEY_SETTING);
    }
  }
  // Checked by name: a file rebuilt by hand from a newer one (as tests of the older versions make) may have it.
  const hasScope = (db.prepare(`SELECT 1 FROM pragma_table_info('tokens') WHERE name = 'scope'`).get() as unknown) !== undefined;
  if (found < 4 && !hasScope) db.exec('ALTER TABLE tokens ADD COLUMN scope TEXT');
};

export const accessSchema: NonNullable<PrivateSqliteOptions['schema']> = {
  what: 'access registry',
  version: SCHEMA_VERSION,
  sql: SCHEMA,
  upgrade,
};
