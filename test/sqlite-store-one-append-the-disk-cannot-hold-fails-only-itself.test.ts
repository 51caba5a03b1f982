import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../adapters/driven/store/index.ts';
import { GroupCommitter } from '../adapters/driven/store/sqlite/group-commit.ts';
import { isCredenceError } from '../domain/errors.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 23, F1: one append that made SQLite answer SQLITE_FULL rolled back the whole group's transaction, and every
 * neighbour of the group (up to 4,095) failed with it though alone it would have committed. That append alone is now
 * refused, with the store's typed `store_unavailable` (`full`) naming SQLITE_FULL, and writes nothing; the others
 * are committed without it. A COMMIT that finds no room is tried again in halves, down to single appends.
 */
const folder = temporaryFolders('credence-full-');

/** A store with 20 events and room for a few small appends only (`max_page_count`, which SQLite answers SQLITE_FULL). */
const nearlyFull = async (): Promise<{ store: SqliteEventStore; db: Database.Database }> => {
  const dir = folder();
  const db = new Database(join(dir, 'events.db'));
  const store = new SqliteEventStore(db);
  for (let i = 0; i < 20; i++) {
    await store.appendToStream(`warm-${i}`, [newEvent('W', { i })], { expectedRevision: ExpectedRevision.noStream, commandId: `w-${i}` });
  }
  db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 2}`);
  return { store, db };
};

const small = (store: SqliteEventStore, stream: string) =>
  store.appendToStream(stream, [newEvent('S')], { expectedRevision: ExpectedRevision.noStream, commandId: `cmd-${stream}` });

const commandRows = (db: Database.Database, commandId: string): number =>
  Number(db.prepare('SELECT COUNT(*) FROM commands WHERE command_id = ?').pluck().get(commandId));

describe('one append the store has no room for, inside a group', () => {
  it('control: the small appends fit on their own', async () => {
    const { store } = await nearlyFull();
    const results = await Promise.allSettled([small(store, 'a'), small(store, 'c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    await store.close();
  });

  for (const events of [1, 2]) {
    it(`an oversized ${events}-event append is refused alone, writes nothing, and its neighbours commit`, async () => {
      const { store, db } = await nearlyFull();
      const big = 'x'.repeat(200_000);
      const groupsBefore = store.groupStats.groups;
      const results = await Promise.allSettled([
        small(store, 'a'),
        store.appendToStream('big', Array.from({ length: events }, () => newEvent('B', { big })), {
          expectedRevision: ExpectedRevision.noStream,
          commandId: 'b',
        }),
        small(store, 'c'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const refusal = (results[1] as PromiseRejectedResult).reason;
      expect(isCredenceError(refusal, 'store_unavailable')).toBe(true);
      expect(refusal.problem).toMatchObject({ code: 'store_unavailable', reason: 'full' });
      expect(refusal.message).toMatch(/SQLITE_FULL/);
      expect(refusal.message).toMatch(/nothing was stored/);
      expect(refusal.message).not.toContain(big.slice(0, 64));
      // Committed in order, each neighbour at its own revision; the refused one left no event and no command row.
      expect((await store.readStream('a')).map((e) => e.type)).toEqual(['S']);
      expect((await store.readStream('c')).map((e) => e.type)).toEqual(['S']);
      expect(await store.readStream('big')).toEqual([]);
      expect(await store.readCommand('big', 'b')).toEqual([]);
      expect(commandRows(db, 'b')).toBe(0);
      expect([commandRows(db, 'cmd-a'), commandRows(db, 'cmd-c')]).toEqual([1, 1]);
      expect(store.groupStats.groups - groupsBefore).toBe(2);
      // The store goes on: a retry of a neighbour is deduplicated, a new small append fits.
      expect((await small(store, 'a')).deduplicated).toBe(true);
      expect((await small(store, 'd')).deduplicated).toBe(false);
      await store.close();
    });
  }

  it('neighbours keep their own outcomes: a conflict and a deduplicated retry around the refused append', async () => {
    const { store } = await nearlyFull();
    const big = 'x'.repeat(200_000);
    const results = await Promise.allSettled([
      small(store, 'a'),
      // The same stream expected empty again: refused by the first, whether or not the group is split.
      store.appendToStream('a', [newEvent('S')], { expectedRevision: ExpectedRevision.noStream, commandId: 'cmd-a-again' }),
      store.appendToStream('big', [newEvent('B', { big })], { expectedRevision: ExpectedRevision.noStream, commandId: 'b' }),
      store.appendToStream('warm-0', [newEvent('W', { i: 0 })], { expectedRevision: ExpectedRevision.noStream, commandId: 'w-0' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(isCredenceError((results[1] as PromiseRejectedResult).reason, 'concurrency_conflict')).toBe(true);
    expect(isCredenceError((results[2] as PromiseRejectedResult).reason, 'store_unavailable')).toBe(true);
    expect((results[3] as PromiseFulfilledResult<{ deduplicated: boolean }>).value.deduplicated).toBe(true);
    expect(await store.readStream('a')).toHaveLength(1);
    await store.close();
  });
});

describe('a group whose COMMIT finds no room', () => {
  /**
   * A connection whose COMMIT answers SQLITE_FULL while the transaction holds a row over `room` (a disk with room for
   * the small rows only): the group committer sees what it would see when the WAL cannot grow.
   */
  const diskWithRoomFor = (room: number) => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    const largest = db.prepare('SELECT MAX(v) FROM t').pluck();
    const commits: number[][] = [];
    const shown = {
      get inTransaction() {
        return db.inTransaction;
      },
      prepare(sql: string) {
        const statement = db.prepare(sql);
        if (sql !== 'COMMIT') return statement;
        return {
          run() {
            if (Number(largest.get()) > room) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
            commits.push([]);
            return statement.run();
          },
        };
      },
    } as unknown as Database.Database;
    return { db, shown, commits };
  };
  const stats = () => ({ groups: 0, appends: 0, largestGroup: 0, commitMs: 0, syncMs: 0 });

  it('commits it in halves, down to single appends, so only the one that cannot fit is refused', async () => {
    const { db, shown, commits } = diskWithRoomFor(10);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = new GroupCommitter<number>(shown, 16, () => undefined, stats());
    const values = [1, 2, 3, 100, 4, 5];
    const results = await Promise.allSettled(values.map((v) => group.submit(() => (insert.run(v), v), false)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const refusal = (results[3] as PromiseRejectedResult).reason;
    expect(isCredenceError(refusal, 'store_unavailable')).toBe(true);
    expect(refusal.message).toMatch(/SQLITE_FULL/);
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual([1, 2, 3, 4, 5]);
    expect(db.inTransaction).toBe(false);
    // Committed: [1 2 3], then [4 5]; [1 2 3 100 4 5], [100 4 5] and [100] found no room.
    expect(commits).toHaveLength(2);
    db.close();
  });

  it('costs one COMMIT when there is room', async () => {
    const { db, shown, commits } = diskWithRoomFor(10);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = new GroupCommitter<number>(shown, 16, () => undefined, stats());
    expect(await Promise.all([1, 2, 3].map((v) => group.submit(() => (insert.run(v), v), false)))).toEqual([1, 2, 3]);
    expect(commits).toHaveLength(1);
    db.close();
  });
});
