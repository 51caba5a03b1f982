import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { rememberDatabaseFile } from '../adapters/driven/files/damaged-database.ts';
import { GroupCommitError, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { mapError } from '../adapters/http/problems.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/**
 * Review 184 L4: a failed group commit is answered 503 `store_unavailable` (`commit_failed`): its outcome is unknown and
 * a retry under the same command id is safe. Not when SQLite failed it for a damaged events.db, which no retry mends:
 * that is answered as the damaged database it is, naming the file and never its path.
 */
const folder = temporaryFolders('credence-commit-damaged-');

/** SQLite's corruption met at a statement on an events.db whose events table's pages were overwritten. */
const corruptionOfADamagedEventsDb = async (): Promise<{ readonly dir: string; readonly error: unknown }> => {
  const dir = join(folder(), 'data');
  const store = openSqliteStoreInDir(dir);
  for (let i = 0; i < 50; i++) {
    await store.appendToStream(`s-${i}`, [{ id: crypto.randomUUID(), type: 'Noted', data: { n: i }, metadata: {} }], { expectedRevision: ExpectedRevision.noStream });
  }
  await store.close();
  const path = join(dir, 'events.db');
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  const pages = db.prepare('SELECT pageno FROM dbstat WHERE name = ?').pluck().all('events') as number[];
  db.close();
  const fd = openSync(path, 'r+');
  for (const page of pages) writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, (page - 1) * pageSize);
  closeSync(fd);
  rememberDatabaseFile(path);
  const reader = new Database(path, { readonly: true });
  try {
    reader.prepare('SELECT * FROM events').all();
    return { dir, error: undefined };
  } catch (error) {
    return { dir, error };
  } finally {
    reader.close();
  }
};

describe('a group commit that failed', () => {
  it('for an I/O error is a 503 store_unavailable saying the outcome is unknown and a retry under the same command id is safe', () => {
    const mapped = mapError(new GroupCommitError(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_FSYNC')));
    expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'commit_failed' } });
    expect(mapped.detail).toMatch(/whether it was stored is unknown .*retry it with the commandId it was sent with \(stored once at most\)/);
  });

  it('for a damaged events.db is answered as a damaged database, with no invitation to retry', async () => {
    const { dir, error } = await corruptionOfADamagedEventsDb();
    expect(error).toMatchObject({ code: expect.stringMatching(/^SQLITE_CORRUPT/) });
    const mapped = mapError(new GroupCommitError(error));
    expect(mapped).toMatchObject({ status: 503, code: 'damaged_database', extensions: { file: 'events.db' } });
    expect(mapped.headers?.['retry-after']).toBeUndefined();
    expect(JSON.stringify(mapped)).not.toContain(dir);
  });
});
