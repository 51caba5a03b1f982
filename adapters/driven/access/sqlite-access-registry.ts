import Database from 'better-sqlite3';
import { openPrivateSqlite, type PrivateSqliteLocation } from '../files/index.ts';

export const ACCESS_DB_FILE = 'access.db';

/** Version 2: the token a token was issued with (`issued_with`), whose revocation ends it too. */
const SCHEMA_VERSION = 2;
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
  issued_with TEXT
);
CREATE INDEX IF NOT EXISTS tokens_issued_with ON tokens (issued_with) WHERE issued_with IS NOT NULL;
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`;

/** Tokens issued before version 2 name no token they were issued with: on the command line, or unknown. */
const upgrade = (db: Database.Database, found: number): void => {
  if (found < 2) db.exec('ALTER TABLE tokens ADD COLUMN issued_with TEXT');
};

/** What is kept of an issued token: never the token itself, which only its holder has. */
export interface TokenRecord {
  readonly tokenId: string;
  readonly subject: string;
  readonly role: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly issuedBy: string;
  /** The token it was issued with, through the service; absent for one issued on the command line. */
  readonly issuedWith?: string;
  readonly revokedAt?: Date;
  readonly revokedBy?: string;
}

export interface TokenPage {
  readonly tokens: readonly TokenRecord[];
  /** Pass as `after` for the next page; absent on the last one. */
  readonly next?: string;
}

export interface AccessRegistry {
  /** The Secure Environment handle of the token signing key, once one was made. */
  signingKey(): string | undefined;
  /**
   * Keeps `handle` as the signing key unless one is kept already (another process may have made one at the same
   * time); returns the handle kept.
   */
  claimSigningKey(handle: string): string;
  /**
   * Records an issued token; false, with nothing recorded, when the token it was issued with (`issuedWith`) is revoked
   * by then: a revocation between the issuer's check and this insert must not let its child live (found in review).
   */
  record(token: Omit<TokenRecord, 'revokedAt' | 'revokedBy'>): boolean;
  find(tokenId: string): TokenRecord | undefined;
  /**
   * Revokes the token and every token issued with it, and with those, down the chain (a token's issuer revoked ends
   * what it issued). Undefined for an unknown id; else the ids revoked by this call (the first revocation of each is
   * kept: one revoked already is not in the list).
   */
  revoke(tokenId: string, at: Date, by: string, options?: { readonly alone?: boolean }): readonly string[] | undefined;
  list(args: { readonly limit: number; readonly after?: string; readonly includeExpired: boolean; readonly now: Date }): TokenPage;
  /** Forgets tokens that expired before `before`: their expiry refuses them without a record. */
  prune(before: Date): number;
  close(): void;
}

interface Row {
  seq: number;
  token_id: string;
  subject: string;
  role: string;
  issued_at: string;
  expires_at: string;
  issued_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
  issued_with: string | null;
}

const toRecord = (r: Row): TokenRecord => ({
  tokenId: r.token_id,
  subject: r.subject,
  role: r.role,
  issuedAt: new Date(r.issued_at),
  expiresAt: new Date(r.expires_at),
  issuedBy: r.issued_by,
  ...(r.issued_with !== null ? { issuedWith: r.issued_with } : {}),
  ...(r.revoked_at !== null ? { revokedAt: new Date(r.revoked_at) } : {}),
  ...(r.revoked_by !== null ? { revokedBy: r.revoked_by } : {}),
});

const SIGNING_KEY = 'signing-key';

/**
 * `<data>/access.db`: durable state, not a read model (no event records tokens: a token's life is not part of the
 * credential lifecycle, and its id in an event would outlive the revocation). 0600, WAL with synchronous FULL, so a
 * revocation acknowledged is on disk; the server reads it on every request, so a revocation made by the CLI in
 * another process counts at once.
 */
export const openAccessRegistry = (location: PrivateSqliteLocation): AccessRegistry =>
  registryOver(
    openPrivateSqlite(location, {
      file: ACCESS_DB_FILE,
      synchronous: 'FULL',
      schema: { what: 'access registry', version: SCHEMA_VERSION, sql: SCHEMA, upgrade },
    }),
  );

const registryOver = (db: Database.Database): AccessRegistry => {
  const sql = {
    getSetting: db.prepare(`SELECT value FROM settings WHERE name = ?`),
    claimSetting: db.prepare(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`),
    insert: db.prepare(
      `INSERT INTO tokens (token_id, subject, role, issued_at, expires_at, issued_by, issued_with)
       SELECT @tokenId, @subject, @role, @issuedAt, @expiresAt, @issuedBy, @issuedWith
       WHERE @issuedWith IS NULL OR EXISTS (SELECT 1 FROM tokens WHERE token_id = @issuedWith AND revoked_at IS NULL)`,
    ),
    revokeOne: db.prepare(`UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ? AND revoked_at IS NULL RETURNING token_id`),
    find: db.prepare(`SELECT * FROM tokens WHERE token_id = ?`),
    revoke: db.prepare(
      `WITH RECURSIVE chain(id) AS (SELECT ? UNION SELECT t.token_id FROM tokens t JOIN chain ON t.issued_with = chain.id)
       UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE token_id IN (SELECT id FROM chain) AND revoked_at IS NULL RETURNING token_id`,
    ),
    page: db.prepare(`SELECT * FROM tokens WHERE seq > ? AND (? = 1 OR expires_at > ?) ORDER BY seq LIMIT ?`),
    prune: db.prepare(`DELETE FROM tokens WHERE expires_at < ?`),
  };
  return {
    signingKey: () => (sql.getSetting.get(SIGNING_KEY) as { value: string } | undefined)?.value,
    claimSigningKey: (handle) => {
      sql.claimSetting.run(SIGNING_KEY, handle);
      return (sql.getSetting.get(SIGNING_KEY) as { value: string }).value;
    },
    record: (t) =>
      sql.insert.run({
        tokenId: t.tokenId,
        subject: t.subject,
        role: t.role,
        issuedAt: t.issuedAt.toISOString(),
        expiresAt: t.expiresAt.toISOString(),
        issuedBy: t.issuedBy,
        issuedWith: t.issuedWith ?? null,
      }).changes === 1,
    find: (tokenId) => {
      const row = sql.find.get(tokenId) as Row | undefined;
      return row === undefined ? undefined : toRecord(row);
    },
    revoke: (tokenId, at, by, options = {}) => {
      if (sql.find.get(tokenId) === undefined) return undefined;
      const rows = options.alone === true ? sql.revokeOne.all(at.toISOString(), by, tokenId) : sql.revoke.all(tokenId, at.toISOString(), by);
      return (rows as { token_id: string }[]).map((r) => r.token_id);
    },
    list: ({ limit, after, includeExpired, now }) => {
      const from = after === undefined ? 0 : Number.parseInt(after, 10);
      // One extra row says whether another page follows.
      const rows = sql.page.all(Number.isSafeInteger(from) ? from : 0, includeExpired ? 1 : 0, now.toISOString(), limit + 1) as Row[];
      const page = rows.slice(0, limit);
      return {
        tokens: page.map(toRecord),
        ...(rows.length > limit ? { next: String(page[page.length - 1]!.seq) } : {}),
      };
    },
    prune: (before) => sql.prune.run(before.toISOString()).changes,
    close: () => {
      if (db.open) db.close();
    },
  };
};
