import type Database from 'better-sqlite3';
import { openPrivateSqlite, type PrivateSqliteLocation } from '../files/index.ts';
import type { AccessRegistry, RecordRefusal, TokenRefusalRule } from './access-registry.ts';
import { accessSchema } from './access-schema.ts';
import { accessStatements, toKeyRecord, toTokenRecord, type KeyRow, type TokenRow } from './access-statements.ts';
import { liveTokenCounts } from './live-tokens.ts';
import { scopeToColumn } from './stored-scope.ts';

export type { AccessRegistry, LiveTokens, RecordRefusal, SigningKeyRecord, TokenPage, TokenRecord, TokenRefusalRule } from './access-registry.ts';
export { LEGACY_SIGNING_KEY_SETTING } from './access-schema.ts';

export const ACCESS_DB_FILE = 'access.db';

/**
 * `<data>/access.db`: durable state, not a read model (no event records tokens: a token's life is not part of the
 * credential lifecycle, and its id in an event would outlive the revocation). 0600, WAL with synchronous FULL, so a
 * revocation acknowledged is on disk; the server reads it on every request, so a revocation made by the CLI in
 * another process counts at once.
 */
export const openAccessRegistry = (location: PrivateSqliteLocation): AccessRegistry =>
  registryOver(openPrivateSqlite(location, { file: ACCESS_DB_FILE, synchronous: 'FULL', schema: accessSchema }));

const registryOver = (db: Database.Database): AccessRegistry => {
  const sql = accessStatements(db);
  const currentSigningKey = (): string | undefined => (sql.current.get() as { handle: string } | undefined)?.handle;
  /** Statements per rule: one per access control, made once (its roles and marks are written into them). */
  const counts = new WeakMap<TokenRefusalRule, ReturnType<typeof liveTokenCounts>>();
  const countsBy = (rule: TokenRefusalRule) => counts.get(rule) ?? counts.set(rule, liveTokenCounts(db, rule)).get(rule)!;
  /** No rule: every token neither revoked nor expired is live. */
  const NONE_REFUSED: TokenRefusalRule = { refused: () => false, maxTtlSeconds: Number.POSITIVE_INFINITY, roles: [], subjectMarks: [] };
  // The checks and the insert in one immediate transaction: a revocation or a rotation by another process lands
  // wholly before or wholly after.
  const record = db.transaction((t: Parameters<AccessRegistry['record']>[0]): 'recorded' | RecordRefusal => {
    if (t.issuedWith !== undefined && sql.issuerLive.get(t.issuedWith) === undefined) return 'issuer_revoked';
    if (currentSigningKey() !== t.signedWith) return 'signing_key_retired';
    if (countsBy(t.refused ?? NONE_REFUSED).ofSubject(t.subject, t.issuedAt).count >= t.maxActiveForSubject) return 'subject_full';
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
  const rotate = db.transaction((handle: string, at: Date, by: string, withdraw: boolean, withdrawKey: string | undefined) => {
    const retired = (sql.retire.all(at.toISOString(), by) as { handle: string }[]).map((r) => r.handle);
    sql.addKey.run(handle, at.toISOString());
    // `withdraw` revokes what every retired key signed, `withdrawKey`'s tokens among them.
    const rows = withdraw
      ? sql.revokeWithdrawn.all(at.toISOString(), by)
      : withdrawKey !== undefined
        ? sql.revokeSignedWith.all(withdrawKey, at.toISOString(), by)
        : [];
    return { retired, revoked: (rows as { token_id: string }[]).map((r) => r.token_id) };
  });
  const claim = db.transaction((handle: string, at: Date): string => {
    sql.claim.run(handle, at.toISOString());
    return currentSigningKey()!;
  });
  return {
    signingKeys: () => (sql.keys.all() as KeyRow[]).map(toKeyRecord),
    currentSigningKey,
    claimSigningKey: (handle, at) => claim.immediate(handle, at),
    rotateSigningKey: (handle, at, by, { withdraw, withdrawKey }) => rotate.immediate(handle, at, by, withdraw, withdrawKey),
    liveSignedWith: (handle, now, refused) => countsBy(refused).signedWith(handle, now),
    forgetSigningKey: (handle) => {
      sql.forgetKey.run(handle);
    },
    record: (t) => record.immediate(t),
    find: (tokenId) => {
      const row = sql.find.get(tokenId) as TokenRow | undefined;
      return row === undefined ? undefined : toTokenRecord(row);
    },
    revoke: (tokenId, at, by, options = {}) => {
      if (sql.find.get(tokenId) === undefined) return undefined;
      const rows = options.alone === true ? sql.revokeOne.all(at.toISOString(), by, tokenId) : sql.revoke.all(tokenId, at.toISOString(), by);
      return (rows as { token_id: string }[]).map((r) => r.token_id);
    },
    list: ({ limit, after, includeExpired, now }) => {
      const from = after === undefined ? 0 : Number.parseInt(after, 10);
      // One extra row says whether another page follows.
      const rows = sql.page.all(Number.isSafeInteger(from) ? from : 0, includeExpired ? 1 : 0, now.toISOString(), limit + 1) as TokenRow[];
      const page = rows.slice(0, limit);
      return {
        tokens: page.map(toTokenRecord),
        ...(rows.length > limit ? { next: String(page[page.length - 1]!.seq) } : {}),
      };
    },
    prune: (before) => sql.prune.run(before.toISOString()).changes,
    close: () => {
      if (db.open) db.close();
    },
  };
};
