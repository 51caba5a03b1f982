import Database from 'better-sqlite3';
import { join } from 'node:path';

/** The embedded Secure Environment's key database in a data folder (secureEnvironmentConfigForDataDir). */
const DATABASE = 'secure-environment.sqlite';

/** A key's stored row, read from a closed or open embedded Secure Environment's database. */
export const keyRowOf = (dir: string, handle: string): Record<string, unknown> => {
  const db = new Database(join(dir, DATABASE), { readonly: true });
  try {
    return db.prepare('SELECT * FROM se_keys WHERE handle = ?').get(handle) as Record<string, unknown>;
  } finally {
    db.close();
  }
};

/** Puts a key row back into the database as it was read (a destroyed key's, restored from an older copy, say). */
export const putKeyRowBack = (dir: string, row: Record<string, unknown>): void => {
  const db = new Database(join(dir, DATABASE));
  try {
    const columns = Object.keys(row);
    db.prepare(`INSERT INTO se_keys (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`).run(row);
  } finally {
    db.close();
  }
};
