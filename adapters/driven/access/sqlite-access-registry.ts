import Database from 'better-sqlite3';
import { openPrivateSqlite, type PrivateSqliteLocation } from '../files/index.ts';
import { scopeOfColumn, scopeToColumn, type StoredScope } from './stored-scope.ts';

export const ACCESS_DB_FILE = 'access.db';

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
  /** The handle of the signing key that signed it. */
  readonly signedWith?: string;
  /** The stakeholders its event stream is limited to (an integrator's); absent: the whole fleet. */
  readonly scope?: StoredScope;
  /**
   * Its `scope` column does not read (the file damaged, or edited by hand): no scope is given, and whoever reads the
   * record must refuse the token rather than take it for one of the whole fleet. Listed so, to be revoked.
   */
  readonly scopeDamaged?: true;
  readonly revokedAt?: Date;
  readonly revokedBy?: string;
}

export interface TokenPage {
  readonly tokens: readonly TokenRecord[];
  /** Pass as `after` for the next page; absent on the last one. */
  readonly next?: string;
}

/** A token signing key, by its Secure Environment handle. */
export interface SigningKeyRecord {
  readonly handle: string;
  /** When it became the signing key; absent for the key of an access.db from before keys were rotated. */
  readonly since?: Date;
  /** When a newer key took over: it signs nothing more, and verifies the tokens it signed until they end. */
  readonly retiredAt?: Date;
  readonly retiredBy?: string;
}

/** Why `record` kept no record. */
export type RecordRefusal = 'issuer_revoked' | 'signing_key_retired' | 'subject_full';

export interface AccessRegistry {
  /** Every signing key kept, oldest first: the current one (no `retiredAt`) and the retired ones not destroyed yet. */
  signingKeys(): readonly SigningKeyRecord[];
  /** The handle of the key that signs new tokens, once one was made. */
  currentSigningKey(): string | undefined;
  /**
   * Keeps `handle` as the signing key unless there is one already (another process may have made one at the same
   * time); returns the handle of the current key.
   */
  claimSigningKey(handle: string, at: Date): string;
  /**
   * Makes `handle` the signing key and retires the one before (its tokens stay valid until they end). With
   * `withdraw`, in the same transaction, revokes every token a retired key signed and, down the chain, every token
   * issued with one (whatever key signed it): a token issued with a withdrawn key's token while the rotation ran
   * must not outlive it (found in review). Returns the handles it retired and the token ids it revoked.
   */
  rotateSigningKey(handle: string, at: Date, by: string, options: { readonly withdraw: boolean }): { readonly retired: readonly string[]; readonly revoked: readonly string[] };
  /** How many tokens signed with the key are neither expired at `now` nor revoked. */
  liveTokensSignedWith(handle: string, now: Date): number;
  /** The latest expiry of those tokens, if any. */
  lastExpirySignedWith(handle: string, now: Date): Date | undefined;
  /** Forgets a retired key (once the Secure Environment destroyed it); the current key is never forgotten. */
  forgetSigningKey(handle: string): void;
  /**
   * Records an issued token, or nothing and says why: the token it was issued with (`issuedWith`) is revoked by then
   * (a revocation between the issuer's check and this insert must not let its child live; found in review), or the
   * key it was signed with (`signedWith`) is not the current signing key any more (rotated meanwhile: sign again),
   * or its subject holds `maxActiveForSubject` tokens live at `issuedAt` already (counted in the same transaction, so
   * issues racing in other processes cannot each see room for one more).
   */
  record(
    token: Omit<TokenRecord, 'revokedAt' | 'revokedBy'> & { readonly signedWith: string; readonly maxActiveForSubject: number },
  ): 'recorded' | RecordRefusal;
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
  signed_with: string | null;
  scope: string | null;
}

interface KeyRow {
  handle: string;
  since: string | null;
  retired_at: string | null;
  retired_by: string | null;
}

const scopeOfRow = (r: Row): Pick<TokenRecord, 'scope' | 'scopeDamaged'> => {
  const scope = scopeOfColumn(r.scope);
  return scope === undefined ? {} : scope === 'damaged' ? { scopeDamaged: true } : { scope };
};

const toRecord = (r: Row): TokenRecord => ({
  tokenId: r.token_id,
  subject: r.subject,
  role: r.role,
  issuedAt: new Date(r.issued_at),
  expiresAt: new Date(r.expires_at),
  issuedBy: r.issued_by,
  ...(r.issued_with !== null ? { issuedWith: r.issued_with } : {}),
  ...(r.signed_with !== null ? { signedWith: r.signed_with } : {}),
  ...scopeOfRow(r),
  ...(r.revoked_at !== null ? { revokedAt: new Date(r.revoked_at) } : {}),
  ...(r.revoked_by !== null ? { revokedBy: r.revoked_by } : {}),
});

const toKeyRecord = (r: KeyRow): SigningKeyRecord => ({
  handle: r.handle,
  ...(r.since !== null ? { since: new Date(r.since) } : {}),
  ...(r.retired_at !== null ? { retiredAt: new Date(r.retired_at) } : {}),
  ...(r.retired_by !== null ? { retiredBy: r.retired_by } : {}),
});

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
    keys: db.prepare(`SELECT handle, since, retired_at, retired_by FROM signing_keys ORDER BY seq`),
    current: db.prepare(`SELECT handle FROM signing_keys WHERE retired_at IS NULL`),
    claim: db.prepare(`INSERT INTO signing_keys (handle, since) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)`),
    retire: db.prepare(`UPDATE signing_keys SET retired_at = ?, retired_by = ? WHERE retired_at IS NULL RETURNING handle`),
    addKey: db.prepare(`INSERT INTO signing_keys (handle, since) VALUES (?, ?)`),
    forgetKey: db.prepare(`DELETE FROM signing_keys WHERE handle = ? AND retired_at IS NOT NULL`),
    live: db.prepare(`SELECT count(*) AS n, max(expires_at) AS last FROM tokens WHERE signed_with = ? AND revoked_at IS NULL AND expires_at > ?`),
    revokeWithdrawn: db.prepare(
      `WITH RECURSIVE chain(id) AS (
         SELECT token_id FROM tokens WHERE signed_with IN (SELECT handle FROM signing_keys WHERE retired_at IS NOT NULL)
         UNION SELECT t.token_id FROM tokens t JOIN chain ON t.issued_with = chain.id)
       UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE token_id IN (SELECT id FROM chain) AND revoked_at IS NULL RETURNING token_id`,
    ),
    issuerLive: db.prepare(`SELECT 1 FROM tokens WHERE token_id = ? AND revoked_at IS NULL`),
    liveOfSubject: db.prepare(`SELECT count(*) AS n FROM tokens WHERE subject = ? AND revoked_at IS NULL AND expires_at > ?`),
    insert: db.prepare(
      `INSERT INTO tokens (token_id, subject, role, issued_at, expires_at, issued_by, issued_with, signed_with, scope)
       VALUES (@tokenId, @subject, @role, @issuedAt, @expiresAt, @issuedBy, @issuedWith, @signedWith, @scope)`,
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
  const currentSigningKey = (): string | undefined => (sql.current.get() as { handle: string } | undefined)?.handle;
  const liveSignedWith = (handle: string, now: Date) => sql.live.get(handle, now.toISOString()) as { n: number; last: string | null };
  // The checks and the insert in one immediate transaction: a revocation or a rotation by another process lands
  // wholly before or wholly after.
  const record = db.transaction((t: Parameters<AccessRegistry['record']>[0]): 'recorded' | RecordRefusal => {
    if (t.issuedWith !== undefined && sql.issuerLive.get(t.issuedWith) === undefined) return 'issuer_revoked';
    if (currentSigningKey() !== t.signedWith) return 'signing_key_retired';
    if ((sql.liveOfSubject.get(t.subject, t.issuedAt.toISOString()) as { n: number }).n >= t.maxActiveForSubject) return 'subject_full';
    sql.insert.run({
      tokenId: t.tokenId,
      subject: t.subject,
      role: t.role,
      issuedAt: t.issuedAt.toISOString(),
      expiresAt: t.expiresAt.toISOString(),
      issuedBy: t.issuedBy,
      issuedWith: t.issuedWith ?? null,
      signedWith: t.signedWith,
      scope: scopeToColumn(t.scope),
    });
    return 'recorded';
  });
  const rotate = db.transaction((handle: string, at: Date, by: string, withdraw: boolean) => {
    const retired = (sql.retire.all(at.toISOString(), by) as { handle: string }[]).map((r) => r.handle);
    sql.addKey.run(handle, at.toISOString());
    const revoked = withdraw ? (sql.revokeWithdrawn.all(at.toISOString(), by) as { token_id: string }[]).map((r) => r.token_id) : [];
    return { retired, revoked };
  });
  const claim = db.transaction((handle: string, at: Date): string => {
    sql.claim.run(handle, at.toISOString());
    return currentSigningKey()!;
  });
  return {
    signingKeys: () => (sql.keys.all() as KeyRow[]).map(toKeyRecord),
    currentSigningKey,
    claimSigningKey: (handle, at) => claim.immediate(handle, at),
    rotateSigningKey: (handle, at, by, { withdraw }) => rotate.immediate(handle, at, by, withdraw),
    liveTokensSignedWith: (handle, now) => liveSignedWith(handle, now).n,
    lastExpirySignedWith: (handle, now) => {
      const { last } = liveSignedWith(handle, now);
      return last === null ? undefined : new Date(last);
    },
    forgetSigningKey: (handle) => {
      sql.forgetKey.run(handle);
    },
    record: (t) => record.immediate(t),
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
