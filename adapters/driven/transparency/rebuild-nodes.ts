import { join } from 'node:path';
import Database from 'better-sqlite3';
import { appendLeafHash, emptyFrontier } from '../../../domain/transparency/frontier.ts';
import { tightenPrivateDatabaseFile } from '../files/index.ts';
import { guardDamage } from './log-file-damaged.ts';
import { TRANSPARENCY_DB_FILE } from './sqlite-log.ts';

const PAGE = 4096;

/**
 * Writes the stored subtree hashes of `<dataDir>/transparency.db` (its `nodes` table) again from its leaves, in one
 * transaction, and returns how many it wrote. The table is a cache of the leaves (sqlite-log.ts): once `credence
 * verify --data` found the events, the leaves and the signed checkpoints in agreement and only a stored subtree hash
 * wrong (`node_mismatch`, review 51), rebuilding it loses nothing a backup would give back. The caller holds the data
 * folder: a service beside it keeps the right edge of the tree in memory.
 */
export const rebuildStoredSubtrees = (dataDir: string): number => {
  const file = join(dataDir, TRANSPARENCY_DB_FILE);
  // Not openPrivateSqlite, which makes a missing file: a repair never makes a log. The file rules for one that exists
  // still hold: another account's refused, one a restore left readable by others (and its -wal/-shm) made 0600.
  tightenPrivateDatabaseFile(file);
  const db = new Database(file, { fileMustExist: true });
  try {
    return guardDamage(file, () => {
      db.pragma('busy_timeout = 5000');
      const page = db.prepare('SELECT leaf_hash FROM leaves WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?').pluck();
      const insert = db.prepare('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)');
      const rebuild = db.transaction(() => {
        db.prepare('DELETE FROM nodes').run();
        let frontier = emptyFrontier;
        let written = 0;
        for (;;) {
          const hashes = page.all(frontier.size, PAGE) as Buffer[];
          for (const hash of hashes) {
            const appended = appendLeafHash(frontier, new Uint8Array(hash));
            for (const node of appended.completed) {
              if (node.level === 0) continue;
              insert.run(node.level, node.index, node.hash);
              written += 1;
            }
            frontier = appended.frontier;
          }
          if (hashes.length < PAGE) return written;
        }
      });
      return rebuild.immediate();
    });
  } finally {
    db.close();
  }
};
