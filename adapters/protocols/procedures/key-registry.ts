import type Database from 'better-sqlite3';

/**
 * Which Secure Environment handles the infrastructure holds for which entity (the Enrolment Function's copy of
 * a provisioned PSK, the Registrar's session keys). Handles are references, not secrets; they are kept here,
 * not in events, because they mean nothing outside this Secure Environment. The shredder reads it to destroy
 * the keys of a revoked or expired entity.
 */
export class KeyRegistry {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS se_key_handles (
      stream TEXT NOT NULL,
      handle TEXT NOT NULL,
      purpose TEXT NOT NULL,
      destroyed_at TEXT,
      PRIMARY KEY (stream, handle)
    ) WITHOUT ROWID`);
  }

  register(stream: string, handle: string, purpose: string): void {
    this.db.prepare('INSERT OR IGNORE INTO se_key_handles (stream, handle, purpose) VALUES (?, ?, ?)').run(stream, handle, purpose);
  }

  /** Live handles of an entity, optionally of one purpose. */
  live(stream: string, purpose?: string): string[] {
    const rows = this.db
      .prepare('SELECT handle, purpose FROM se_key_handles WHERE stream = ? AND destroyed_at IS NULL ORDER BY handle')
      .all(stream) as { handle: string; purpose: string }[];
    return rows.filter((r) => purpose === undefined || r.purpose === purpose).map((r) => r.handle);
  }

  markDestroyed(stream: string, handle: string, at: Date): void {
    this.db.prepare('UPDATE se_key_handles SET destroyed_at = ? WHERE stream = ? AND handle = ?').run(at.toISOString(), stream, handle);
  }
}
