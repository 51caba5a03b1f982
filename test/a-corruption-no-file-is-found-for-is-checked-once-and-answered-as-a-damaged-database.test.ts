/**
 * Review 52, finding 1: SQLite's corruption met at a statement names no file, so the service ran `PRAGMA quick_check`
 * over the folder's files to name it, and remembered a file only once it was found damaged. An index that no longer
 * matches its table (SQLITE_CORRUPT_INDEX) passes quick_check (only integrity_check compares them): every failing
 * request checked every file again, twice (mapError, then the log line), ~270 ms on a 246 MiB events.db, and the
 * answer was a 500 `internal`. Now an error is judged once, a check that found nothing stands for a minute (or until a
 * file is opened again), no file over 64 MiB is checked on a request, and the answer is `damaged_database` (503)
 * naming the folder's files to check and what mends each.
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { damagedDatabaseOf, rememberDatabaseFile } from '../adapters/driven/files/damaged-database.ts';
import { mapError } from '../adapters/http/problems.ts';

const root = mkdtempSync(join(tmpdir(), 'credence-corrupt-index-'));
let folders = 0;

/** An events.db whose index says another column than the one it was built on: quick_check passes, statements fail. */
const eventsWithAStaleIndex = (): { readonly dir: string; readonly path: string } => {
  const dir = join(root, `folder-${++folders}`);
  const path = join(dir, 'events.db');
  mkdirSync(dir, { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT, type TEXT)');
  db.exec('CREATE INDEX ev_stream ON events(stream)');
  const insert = db.prepare('INSERT INTO events (stream, type) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 200; i++) insert.run(`node-${i % 10}`, 'NodeEnrolled');
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.unsafeMode(true);
  db.pragma('writable_schema = ON');
  db.prepare("UPDATE sqlite_master SET sql = 'CREATE INDEX ev_stream ON events(type)' WHERE name = 'ev_stream'").run();
  db.close();
  return { dir, path };
};

/** What a request's statement meets on that file: a new error object each time, as each request gets its own. */
const failingStatement = (path: string): unknown => {
  const db = new Database(path);
  try {
    db.prepare("DELETE FROM events WHERE type = 'NodeEnrolled' AND position = 5").run();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    db.close();
  }
};

let pragma: MockInstance;
/** The quick checks run on `path` (the folders of this file's other tests are checked too: this process opened them). */
const quickChecksOf = (path: string): number =>
  pragma.mock.calls.filter(([source], i) => String(source).startsWith('quick_check') && (pragma.mock.contexts[i] as Database.Database).name === path).length;

beforeEach(() => {
  pragma = vi.spyOn(Database.prototype, 'pragma');
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a corruption no file is found damaged for', () => {
  it('mapped twice in a row, as a request maps it, runs quick_check at most once and answers damaged_database (503), not internal', () => {
    const { dir, path } = eventsWithAStaleIndex();
    rememberDatabaseFile(path);
    const error = failingStatement(path);
    expect(error).toMatchObject({ code: 'SQLITE_CORRUPT_INDEX' });

    const first = mapError(error);
    const second = mapError(error);
    const logged = damagedDatabaseOf(error);

    expect(quickChecksOf(path)).toBeLessThanOrEqual(1);
    for (const mapped of [first, second]) {
      expect(mapped).toMatchObject({ status: 503, code: 'damaged_database', extensions: { file: 'unknown' } });
      expect(mapped.detail).not.toContain(dir);
    }
    expect(logged?.problem).toMatchObject({ code: 'damaged_database', file: 'unknown', path: dir, candidates: ['events.db'] });
    expect(logged?.message).toContain(`a database of ${dir} is damaged (SQLITE_CORRUPT_INDEX`);
    expect(logged?.message).toContain("sqlite3 FILE 'PRAGMA integrity_check'");
    expect(logged?.message).toMatch(/events\.db: it is the record of every event, .*restore it from a backup/);
  });

  it('met again by the next requests, checks no file again until a file is opened again', () => {
    const { path } = eventsWithAStaleIndex();
    rememberDatabaseFile(path);
    mapError(failingStatement(path));
    const checked = quickChecksOf(path);
    expect(checked).toBe(1);

    for (let i = 0; i < 5; i++) expect(mapError(failingStatement(path))).toMatchObject({ status: 503, code: 'damaged_database' });
    expect(quickChecksOf(path)).toBe(checked);

    rememberDatabaseFile(path);
    expect(mapError(failingStatement(path))).toMatchObject({ status: 503, code: 'damaged_database' });
    expect(quickChecksOf(path)).toBe(checked + 1);
  });

  it('a file over 64 MiB is never checked on a request: it is named among the files to check', () => {
    const { dir, path } = eventsWithAStaleIndex();
    // Past its last page, the file grown (sparse) beyond the bound: SQLite reads only the pages its header counts.
    truncateSync(path, 65 * 2 ** 20);
    rememberDatabaseFile(path);
    const error = failingStatement(path);
    expect(error).toMatchObject({ code: 'SQLITE_CORRUPT_INDEX' });

    expect(mapError(error)).toMatchObject({ status: 503, code: 'damaged_database', extensions: { file: 'unknown' } });
    expect(quickChecksOf(path)).toBe(0);
    expect(damagedDatabaseOf(error)?.problem).toMatchObject({ file: 'unknown', path: dir, candidates: ['events.db'] });
  });
});
