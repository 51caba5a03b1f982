import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openReadingConnection } from '../files/index.ts';
import { ACCESS_DB_FILE } from './sqlite-access-registry.ts';

/**
 * How many tokens the revocation of `tokenId` in the access.db of `dir` revoked with it: those issued with it, and with
 * those, down the chain, that one revocation ended (the registry revokes them in one statement, with one time and one
 * actor: access-statements.ts). Read after the revocation, from the file, so a token revoked earlier by another
 * revocation is not counted. 0 for an unknown or unrevoked token.
 */
export const revokedWith = (dir: string, tokenId: string): number =>
  reading(dir, (db) => {
    const row = db
      .prepare(
        `WITH RECURSIVE chain(id) AS (SELECT ? UNION SELECT t.token_id FROM tokens t JOIN chain ON t.issued_with = chain.id),
              root AS (SELECT revoked_at, revoked_by FROM tokens WHERE token_id = ? AND revoked_at IS NOT NULL)
         SELECT count(*) AS n FROM tokens t, root
          WHERE t.token_id IN (SELECT id FROM chain) AND t.token_id <> ? AND t.revoked_at = root.revoked_at AND t.revoked_by = root.revoked_by`,
      )
      .get(tokenId, tokenId, tokenId) as { n: number };
    return row.n;
  });

/** When the token `tokenId` of the access.db of `dir` was revoked (ISO 8601), if it is. */
export const revokedAt = (dir: string, tokenId: string): string | undefined =>
  reading(dir, (db) => (db.prepare('SELECT revoked_at FROM tokens WHERE token_id = ?').get(tokenId) as { revoked_at: string | null } | undefined)?.revoked_at ?? undefined);

const reading = <T>(dir: string, read: (db: Database.Database) => T): T => {
  const db = openReadingConnection(join(dir, ACCESS_DB_FILE));
  try {
    return read(db);
  } finally {
    db.close();
  }
};
