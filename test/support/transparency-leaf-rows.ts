import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';

/** One row of transparency.db's leaves, as an operator's sqlite3 sees it. */
export interface LeafRow {
  leaf_index: number;
  position: number;
  event_id: string;
  stream_id: string;
}

const COLUMNS = 'leaf_index, position, event_id, stream_id';

/** Runs `use` on a connection of its own to the log's file in `dir`, as another process would. */
export const withLog = <T>(dir: string, readonly: boolean, use: (db: Database.Database) => T): T => {
  const db = new Database(join(dir, 'transparency.db'), { readonly });
  try {
    return use(db);
  } finally {
    db.close();
  }
};

/** Every leaf row of the log in `dir`, oldest first, read on a connection of its own. */
export const leavesOf = (dir: string): LeafRow[] =>
  withLog(dir, true, (db) => db.prepare(`SELECT ${COLUMNS} FROM leaves ORDER BY leaf_index`).all() as LeafRow[]);

/** The newest leaf row of the log in `dir`. */
export const newestLeafOf = (dir: string): LeafRow =>
  withLog(dir, true, (db) => db.prepare(`SELECT ${COLUMNS} FROM leaves ORDER BY leaf_index DESC LIMIT 1`).get() as LeafRow);

/**
 * What an operator's sqlite3 does, on its own connection: one more row after the newest, `ahead` positions past it,
 * its event one the store does not hold there and its leaf hash random.
 */
export const insertPastNewest = (dir: string, ahead = 1): LeafRow =>
  withLog(dir, false, (db) => {
    const newest = db.prepare(`SELECT ${COLUMNS} FROM leaves ORDER BY leaf_index DESC LIMIT 1`).get() as LeafRow;
    const row: LeafRow = { leaf_index: newest.leaf_index + 1, position: newest.position + ahead, event_id: randomUUID(), stream_id: 'node-meter-9' };
    db.prepare(`INSERT INTO leaves (leaf_index, position, event_id, leaf_hash, stream_id, revision) VALUES (?, ?, ?, ?, ?, 0)`)
      .run(row.leaf_index, row.position, row.event_id, randomBytes(32), row.stream_id);
    return row;
  });
