import type Database from 'better-sqlite3';
import type { SigningKeyRecord, TokenRecord } from './access-registry.ts';
import { scopeOfColumn } from './stored-scope.ts';

export interface TokenRow {
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

export interface KeyRow {
  handle: string;
  since: string | null;
  retired_at: string | null;
  retired_by: string | null;
}

const scopeOfRow = (r: TokenRow): Pick<TokenRecord, 'scope' | 'scopeDamaged'> => {
  const scope = scopeOfColumn(r.scope, r.role);
  return scope === undefined ? {} : scope === 'damaged' ? { scopeDamaged: true } : { scope };
};

export const toTokenRecord = (r: TokenRow): TokenRecord => ({
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

export const toKeyRecord = (r: KeyRow): SigningKeyRecord => ({
  handle: r.handle,
  ...(r.since !== null ? { since: new Date(r.since) } : {}),
  ...(r.retired_at !== null ? { retiredAt: new Date(r.retired_at) } : {}),
  ...(r.retired_by !== null ? { retiredBy: r.retired_by } : {}),
});

export const accessStatements = (db: Database.Database) => ({
  keys: db.prepare(`SELECT handle, since, retired_at, retired_by FROM signing_keys ORDER BY seq`),
  current: db.prepare(`SELECT handle FROM signing_keys WHERE retired_at IS NULL`),
  claim: db.prepare(`INSERT INTO signing_keys (handle, since) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)`),
  retire: db.prepare(`UPDATE signing_keys SET retired_at = ?, retired_by = ? WHERE retired_at IS NULL RETURNING handle`),
  addKey: db.prepare(`INSERT INTO signing_keys (handle, since) VALUES (?, ?)`),
  forgetKey: db.prepare(`DELETE FROM signing_keys WHERE handle = ? AND retired_at IS NOT NULL`),
  revokeWithdrawn: db.prepare(
    `WITH RECURSIVE chain(id) AS (
         SELECT token_id FROM tokens WHERE signed_with IN (SELECT handle FROM signing_keys WHERE retired_at IS NOT NULL)
         UNION SELECT t.token_id FROM tokens t JOIN chain ON t.issued_with = chain.id)
       UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE token_id IN (SELECT id FROM chain) AND revoked_at IS NULL RETURNING token_id`,
  ),
  /** Review 133: the tokens one key signed, down the chain (a key gone from the Secure Environment, withdrawn alone). */
  revokeSignedWith: db.prepare(
    `WITH RECURSIVE chain(id) AS (
         SELECT token_id FROM tokens WHERE signed_with = ?
         UNION SELECT t.token_id FROM tokens t JOIN chain ON t.issued_with = chain.id)
       UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE token_id IN (SELECT id FROM chain) AND revoked_at IS NULL RETURNING token_id`,
  ),
  issuerLive: db.prepare(`SELECT 1 FROM tokens WHERE token_id = ? AND revoked_at IS NULL`),
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
});
