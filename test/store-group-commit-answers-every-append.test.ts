import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../adapters/driven/store/sqlite/group-commit.ts';

/*
 * Found in review: a group committer whose commit listener threw (it wakes subscribers and the checkpointer) left
 * every append of the committed group unanswered, and a failing SAVEPOINT or ROLLBACK TO left the transaction open.
 * Committed appends are now answered whatever the listener does, and a failure of the group's own statements rolls
 * the whole group back and fails every append.
 */
const stats = () => ({ groups: 0, appends: 0, largestGroup: 0, commitMs: 0, syncMs: 0 });
const table = () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
  return db;
};

describe('the group committer', () => {
  it('answers every committed append though the commit listener throws', async () => {
    const db = table();
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = new GroupCommitter<number>(db, 16, () => {
      throw new Error('a listener failed');
    }, stats());
    const answers = await Promise.all([1, 2, 3].map((v) => group.submit(() => (insert.run(v), v))));
    expect(answers).toEqual([1, 2, 3]);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 3 });
    db.close();
  });

  it('fails the whole group, and leaves no transaction open, when an append cannot be undone alone', async () => {
    const db = table();
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = new GroupCommitter<number>(db, 16, () => undefined, stats());
    const first = group.submit(() => (insert.run(1), 1));
    // Its work releases the savepoint the committer opened for it, so the committer's ROLLBACK TO fails.
    const broken = group.submit(() => {
      insert.run(2);
      db.exec('RELEASE credence_append');
      throw new Error('refused');
    });
    const results = await Promise.allSettled([first, broken]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 0 });
    db.close();
  });

  it('fails the whole group when an append without a savepoint fails past its first write', async () => {
    const db = table();
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = new GroupCommitter<number>(db, 16, () => undefined, stats());
    const first = group.submit(() => (insert.run(1), 1), false);
    // Its first write went in; then an I/O error that SQLite did not answer by rolling back.
    const torn = group.submit(() => {
      insert.run(2);
      throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE');
    }, false);
    // A constraint refusing the first write of another is its own refusal: SQLite undid that statement alone.
    const refused = group.submit(() => (insert.run(1), 3), false);
    const results = await Promise.allSettled([first, torn, refused]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 0 });
    db.close();
  });

  it('keeps a neighbour refused by a constraint at its first write as that neighbour\'s own refusal', async () => {
    const db = table();
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = new GroupCommitter<number>(db, 16, () => undefined, stats());
    const results = await Promise.allSettled([
      group.submit(() => (insert.run(1), 1), false),
      group.submit(() => (insert.run(1), 2), false),
      group.submit(() => (insert.run(3), 3), false),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 2 });
    db.close();
  });
});
