import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { ExpectedRevision } from '../domain/ports/index.ts';
import { newEvent } from './store-conformance/helpers.ts';

/**
 * Issue 15 items 1 and 5: the embedded store checkpoints its WAL from a thread of its own, off the commit path, and the
 * writer's own checkpoint still bounds the WAL. Acknowledged appends stay readable through it all, and after close.
 */
const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-checkpoints-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `count` one-event appends on new streams `<prefix>-<i>`, `together` at a time (one group each). */
const appendMany = async (store: ReturnType<typeof openSqliteStoreInDir>, count: number, together: number, prefix = 's'): Promise<void> => {
  for (let from = 0; from < count; from += together) {
    await Promise.all(
      Array.from({ length: Math.min(together, count - from) }, (_, k) =>
        store.appendToStream(`${prefix}-${from + k}`, [newEvent('E', { i: from + k, padding: 'x'.repeat(200) })], { expectedRevision: ExpectedRevision.noStream }),
      ),
    );
  }
};

const rowsInFile = (file: string): number => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.prepare('SELECT COUNT(*) FROM events').pluck().get());
  } finally {
    db.close();
  }
};

describe('background checkpoints of the embedded store', () => {
  it('copy committed frames into the database file from their own thread; close leaves every append in the file and no WAL', async () => {
    const dir = join(freshDir(), 'data');
    const store = openSqliteStoreInDir(dir, { backgroundCheckpoints: { afterAppends: 0, intervalMs: 0 } });
    expect(store.checkpointStats.running).toBe(false);
    await appendMany(store, 2_000, 100);
    expect(store.checkpointStats.running).toBe(true);
    await vi.waitFor(() => expect(store.checkpointStats.frames).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
    expect(store.checkpointStats.failures).toBe(0);
    // Appends keep being acknowledged and read while the thread checkpoints.
    await appendMany(store, 200, 50, 'later');
    expect(Number(await store.headPosition())).toBe(2_200);
    expect((await store.readStream('s-1999')).map((e) => e.data)).toEqual([{ i: 1999, padding: 'x'.repeat(200) }]);
    await store.close();
    expect(store.checkpointStats.running).toBe(false);
    // The store's connection closed last, so SQLite checkpointed the rest and removed the WAL.
    expect(existsSync(join(dir, 'events.db-wal'))).toBe(false);
    expect(rowsInFile(join(dir, 'events.db'))).toBe(2_200);
    const reopened = openSqliteStoreInDir(dir);
    expect((await reopened.readStream('s-0'))[0]?.data).toEqual({ i: 0, padding: 'x'.repeat(200) });
    await reopened.close();
  });

  it('keep the WAL bounded by the writer\'s own checkpoint when the thread falls behind', async () => {
    const dir = join(freshDir(), 'data');
    // The thread checkpoints once as it starts and then waits a minute: the writer's bound of 64 pages must hold the WAL.
    const store = openSqliteStoreInDir(dir, { durability: 'normal', backgroundCheckpoints: { afterAppends: 0, intervalMs: 60_000, boundPages: 64 } });
    await appendMany(store, 20, 20, 'first');
    expect(store.checkpointStats.running).toBe(true);
    // While a checkpoint runs, the writer's own cannot restart the WAL (a loaded machine saw it reach 2.4 MiB when the
    // thread's overlapped the appends below), so they start once the thread's one checkpoint is done.
    // A thread that cannot checkpoint says why, rather than leaving the wait to time out on a count.
    await vi.waitFor(() => {
      const { checkpoints, failures, lastFailure } = store.checkpointStats;
      expect({ checkpoints, failures, lastFailure }).toEqual({ checkpoints: 1, failures: 0, lastFailure: undefined });
    }, { timeout: 30_000, interval: 10 });
    await appendMany(store, 3_000, 20);
    expect(store.checkpointStats.checkpoints).toBe(1);
    // 3,000 rows of ~500 bytes with their indexes, written 150 times: about 400 KiB of WAL bounded at 64 pages, 4 MiB
    // at SQLite's default bound of 1,000 pages, 14 MiB with no bound.
    const walBytes = statSync(join(dir, 'events.db-wal')).size;
    expect(walBytes).toBeLessThan(1024 * 1024);
    await store.close();
    expect(rowsInFile(join(dir, 'events.db'))).toBe(3_020);
  });

  it('let a process whose only work left is closing its store end normally (the thread is waited for, then released)', () => {
    const dir = join(freshDir(), 'data');
    const store = fileURLToPath(new URL('../adapters/driven/store/index.ts', import.meta.url));
    const ports = fileURLToPath(new URL('../domain/ports/index.ts', import.meta.url));
    const script = `
      import { openSqliteStoreInDir } from ${JSON.stringify(store)};
      import { ExpectedRevision } from ${JSON.stringify(ports)};
      const store = openSqliteStoreInDir(${JSON.stringify(dir)}, { backgroundCheckpoints: { afterAppends: 0 } });
      await Promise.all(Array.from({ length: 50 }, (_, i) =>
        store.appendToStream('s-' + i, [{ id: crypto.randomUUID(), type: 'E', data: { i }, metadata: {} }], { expectedRevision: ExpectedRevision.noStream })));
      await store.close();
      process.stdout.write(String(store.checkpointStats.running) + ' closed');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr).toBe('');
    expect([child.status, child.stdout]).toEqual([0, 'false closed']);
    expect(rowsInFile(join(dir, 'events.db'))).toBe(50);
  });

  it('never keep a process alive that ends without closing its store (the thread is unref\'d), acknowledged appends kept', () => {
    const dir = join(freshDir(), 'data');
    const store = fileURLToPath(new URL('../adapters/driven/store/index.ts', import.meta.url));
    const ports = fileURLToPath(new URL('../domain/ports/index.ts', import.meta.url));
    // The unref'd timer fires only if something else still holds the event loop once the script's work is done.
    const script = `
      import { openSqliteStoreInDir } from ${JSON.stringify(store)};
      import { ExpectedRevision } from ${JSON.stringify(ports)};
      const store = openSqliteStoreInDir(${JSON.stringify(dir)}, { backgroundCheckpoints: { afterAppends: 0, intervalMs: 0 } });
      await Promise.all(Array.from({ length: 50 }, (_, i) =>
        store.appendToStream('s-' + i, [{ id: crypto.randomUUID(), type: 'E', data: { i }, metadata: {} }], { expectedRevision: ExpectedRevision.noStream })));
      process.stdout.write(String(store.checkpointStats.running));
      setTimeout(() => { process.stdout.write(' still running'); process.exit(3); }, 30_000).unref();
    `;
    // A module file, as a service runs (the same script under `-e` did not show the hang).
    const file = join(freshDir(), 'no-close.mts');
    writeFileSync(file, script);
    const child = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr).toBe('');
    expect([child.status, child.stdout]).toEqual([0, 'true']);
    expect(rowsInFile(join(dir, 'events.db'))).toBe(50);
  });

  it('make every close, not only the first, resolve once the store is closed and its WAL removed', async () => {
    const dir = join(freshDir(), 'data');
    const store = openSqliteStoreInDir(dir, { backgroundCheckpoints: { afterAppends: 0, intervalMs: 0 } });
    await appendMany(store, 300, 100);
    expect(store.checkpointStats.running).toBe(true);
    // Shutdown paths may close twice (a signal and the service's own stop): the second must wait for the first.
    const first = store.close();
    await store.close();
    expect(existsSync(join(dir, 'events.db-wal'))).toBe(false);
    expect(store.checkpointStats.running).toBe(false);
    await first;
    expect(rowsInFile(join(dir, 'events.db'))).toBe(300);
  });

  it('do not start for a store that writes little, nor when turned off, nor in memory', async () => {
    const small = openSqliteStoreInDir(join(freshDir(), 'small'));
    await appendMany(small, 200, 10);
    expect(small.checkpointStats.running).toBe(false);
    await small.close();
    const off = openSqliteStoreInDir(join(freshDir(), 'off'), { backgroundCheckpoints: false });
    await appendMany(off, 1_100, 100);
    expect(off.checkpointStats.running).toBe(false);
    await off.close();
  });

  it('name the setting that is out of range', () => {
    expect(() => openSqliteStoreInDir(join(freshDir(), 'a'), { backgroundCheckpoints: { afterAppends: -1 } })).toThrow(/options\.backgroundCheckpoints\.afterAppends: must be a whole number >= 0/);
    expect(() => openSqliteStoreInDir(join(freshDir(), 'b'), { backgroundCheckpoints: { intervalMs: Number.NaN } })).toThrow(/options\.backgroundCheckpoints\.intervalMs/);
    // Past setTimeout's longest delay the timer would fire at once, checkpointing continuously.
    expect(() => openSqliteStoreInDir(join(freshDir(), 'd'), { backgroundCheckpoints: { intervalMs: 2 ** 31 } })).toThrow(
      /options\.backgroundCheckpoints\.intervalMs: must be a number of ms from 0 to 2147483647/,
    );
    expect(() => openSqliteStoreInDir(join(freshDir(), 'c'), { backgroundCheckpoints: { boundPages: 0 } })).toThrow(/options\.backgroundCheckpoints\.boundPages: must be a whole number >= 1/);
  });
});
