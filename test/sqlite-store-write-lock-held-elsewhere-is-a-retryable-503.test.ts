import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { GroupCommitError, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { GroupCommitter } from '../adapters/driven/store/sqlite/group-commit.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { mapError } from '../adapters/http/problems.ts';
import { isCredenceError } from '../domain/errors.ts';
import { command } from '../domain/commands/index.ts';
import { cmd, operator, profile, T0 } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 23, F2: a BEGIN IMMEDIATE that failed (SQLITE_BUSY past busy_timeout: another process holds the write lock)
 * rejected every append of the group with the raw SqliteError, which the HTTP layer answered 500 internal: a client
 * could not tell that nothing was stored and that a retry is safe. It is now the typed `store_unavailable` (`busy`),
 * answered 503 with Retry-After. And a failed COMMIT no longer claims that nothing was stored: at the WAL's sync its
 * frames may be in the WAL already, so it says the append may not have been stored and to retry with the same
 * command id; HTTP answers it 503 `store_unavailable` (`commit_failed`) saying so (review 184 L4: it was a 500).
 */
const folder = temporaryFolders('credence-busy-');

describe('a write lock held by another process', () => {
  it('fails the command with a typed, retryable store_unavailable that HTTP answers 503 with Retry-After', async () => {
    const root = folder();
    const dir = join(root, 'data');
    const store = openSqliteStoreInDir(dir, { busyTimeoutMs: 50 });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    const commandId = '0b7c0d4e-5a8f-4c1e-9f3a-2d6b8e1f4a70';
    const register = command('registerNode', { nodeId: 'meter-1', profile }, { actor: operator, commandId });
    const other = new Database(join(dir, 'events.db'));
    other.exec('BEGIN IMMEDIATE');
    const error = await engine.execute(register).then(
      () => undefined,
      (e: unknown) => e,
    );
    other.exec('ROLLBACK');
    other.close();

    expect(isCredenceError(error, 'store_unavailable')).toBe(true);
    expect(isCredenceError(error) && error.problem).toMatchObject({ code: 'store_unavailable', reason: 'busy' });
    expect(String((error as Error).message)).toMatch(/another process holds its write lock .*SQLITE_BUSY.*nothing was stored, retry the command with the same command id/);
    const mapped = mapError(error);
    expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'busy' }, headers: { 'retry-after': '1' } });

    // Nothing was stored: no event of the node, no command row; the same command retried is stored once.
    expect(await store.readStream('node-meter-1')).toEqual([]);
    expect(await store.readCommand('node-meter-1', commandId)).toEqual([]);
    const rows = (store as unknown as { db: Database.Database }).db.prepare('SELECT COUNT(*) FROM commands WHERE command_id = ?').pluck();
    expect(Number(rows.get(commandId))).toBe(0);
    await engine.execute(register);
    await engine.execute(register);
    expect(Number(rows.get(commandId))).toBe(1);
    await store.close();
  });
});

describe('a group commit that fails otherwise', () => {
  it('says the append may not have been stored and to retry with the same command id, not that nothing was stored; HTTP answers 503', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    // COMMIT failing at the WAL's sync: its frames may be in the WAL, and recovery may replay them.
    const shown = {
      get inTransaction() {
        return db.inTransaction;
      },
      prepare: (sql: string) =>
        sql === 'COMMIT'
          ? {
              run: () => {
                throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_FSYNC');
              },
            }
          : db.prepare(sql),
    } as unknown as Database.Database;
    const group = new GroupCommitter<number>(shown, 16, () => undefined, { groups: 0, appends: 0, largestGroup: 0, commitMs: 0, syncMs: 0 });
    const error = await group.submit(() => (insert.run(1), 1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GroupCommitError);
    expect((error as Error).message).toMatch(/may not have been stored; retry it with the same command id/);
    expect((error as Error).message).not.toMatch(/nothing of it was stored/);
    // Review 184 L4: it was a 500 `internal` with a generic detail, so a client never learnt that its outcome is unknown
    // and that sending the command again under the same command id is safe. SQLite's words stay in the log.
    const mapped = mapError(error);
    expect(mapped).toMatchObject({ status: 503, code: 'store_unavailable', extensions: { reason: 'commit_failed' }, headers: { 'retry-after': '5' } });
    expect(mapped.detail).toMatch(/whether .* was stored is unknown/);
    expect(mapped.detail).toMatch(/retry it with the commandId it was sent with \(stored once at most\)/);
    expect(mapped.detail).not.toMatch(/I\/O|SQLITE|fsync/i);
    expect(db.inTransaction).toBe(false);
    db.close();
  });
});
