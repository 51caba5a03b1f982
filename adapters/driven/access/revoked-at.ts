import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openReadingConnection } from '../files/index.ts';
import { ACCESS_DB_FILE } from './sqlite-access-registry.ts';

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
