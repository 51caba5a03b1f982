/**
 * Review 217: the log's edge (its size and root, what checkpoints sign) moved inside the append's transaction, before
 * COMMIT. A COMMIT that fails (a full disk or an I/O error: in WAL mode the pages are written there) rolls the leaves
 * back, and the edge was left counting them: the next checkpoint signed leaves the file never kept, and an audit then
 * called the intact files TAMPERED. The edge now moves once the leaves are committed.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteTransparencyLog } from '../adapters/driven/transparency/sqlite-log.ts';
import type { LeafToAppend } from '../domain/ports/transparency-log.ts';

const leaf = (n: number): LeafToAppend => ({
  position: BigInt(n),
  eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  leafHash: new Uint8Array(32).fill(n),
  stream: { streamId: 'node-n1', revision: BigInt(n - 1) },
});

/** Makes every COMMIT that inserted a leaf fail at its deferred check, as a full disk fails it: rolled back whole. */
const failCommits = (db: Database.Database): void => {
  db.pragma('foreign_keys = ON');
  db.exec(`CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY);
    CREATE TEMP TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TEMP TRIGGER fail_commit AFTER INSERT ON main.leaves BEGIN INSERT INTO child VALUES (1); END;`);
};

describe('a transparency log append whose COMMIT fails', () => {
  it('leaves size and root at the leaves the file kept, and the next append extends them', () => {
    const db = new Database(':memory:');
    const log = new SqliteTransparencyLog(db);
    log.append([leaf(1), leaf(2)]);
    const kept = { size: log.size(), root: Buffer.from(log.rootHash()).toString('hex') };

    failCommits(db);
    expect(() => log.append([leaf(3), leaf(4)])).toThrow(/FOREIGN KEY/);
    expect(Number(db.prepare('SELECT count(*) FROM leaves').pluck().get())).toBe(2);
    expect({ size: log.size(), root: Buffer.from(log.rootHash()).toString('hex') }).toEqual(kept);

    db.exec('DROP TRIGGER temp.fail_commit');
    log.append([leaf(3), leaf(4)]);
    expect(log.size()).toBe(4);
    expect(Buffer.from(log.rootHash()).toString('hex')).toBe(Buffer.from(log.storedRootHash(4)).toString('hex'));
    db.close();
  });
});
