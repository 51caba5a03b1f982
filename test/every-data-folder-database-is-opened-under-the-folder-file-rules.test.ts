import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openReadModels } from '../adapters/driven/readmodels/index.ts';
import { openReplayCache, SqliteReplayCache } from '../adapters/driven/replay-cache/index.ts';
import { openSqliteStore, openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { openTransparencyLog, openTransparencyLogInDir, rebuildStoredSubtrees } from '../adapters/driven/transparency/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { leaveWalAlone, refusalOf } from './support/left-wal.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/**
 * Every SQLite file Credence makes in a data folder is opened through openPrivateSqlite, which holds the folder's file
 * rules; events.db, transparency.db and replay-cache.db were opened with `new Database` directly, so each rule held for
 * them only as far as its opener copied it.
 */

const folder = temporaryFolders('credence-file-rules-');

const OPENERS = [
  ['events.db', (dir: string) => openSqliteStoreInDir(dir, { backgroundCheckpoints: false }).close()],
  ['transparency.db', (dir: string) => openTransparencyLogInDir(dir).close()],
  ['replay-cache.db', (dir: string) => openReplayCache({ dir }).close()],
  ['readmodels.db', (dir: string) => openReadModels({ dir }).close()],
] as const;

describe('a -wal left without its database', () => {
  for (const [file, open] of OPENERS) {
    it(`is refused at ${file}'s open as damaged, naming it, and the -wal is kept, not deleted by SQLite`, () => {
      const dir = folder();
      leaveWalAlone(file, dir, folder());
      const error = refusalOf(() => open(dir));
      expect(isCredenceError(error, 'damaged_database')).toBe(true);
      expect((error as Error).message).toContain(`${file}-wal without ${file} itself`);
      expect(existsSync(join(dir, file))).toBe(false);
      expect(statSync(join(dir, `${file}-wal`)).size).toBeGreaterThan(32);
    });
  }
});

describe('a folder group or others may write to', () => {
  const openers = [
    ['events.db', (dir: string) => openSqliteStore({ file: join(dir, 'events.db'), backgroundCheckpoints: false }).close()],
    ['transparency.db', (dir: string) => openTransparencyLog({ file: join(dir, 'transparency.db') }).close()],
    ['replay-cache.db', (dir: string) => new SqliteReplayCache({ path: join(dir, 'replay-cache.db'), windowSeconds: 60, maxEntries: 10 }).close()],
  ] as const;
  for (const [file, open] of openers) {
    it(`is refused before ${file} is made in it`, () => {
      const dir = folder();
      chmodSync(dir, 0o777);
      const error = refusalOf(() => open(dir));
      expect(isCredenceError(error, 'validation')).toBe(true);
      expect((error as Error).message).toContain('chmod 700');
      expect(existsSync(join(dir, file))).toBe(false);
    });
  }
});

describe('a replay cache file SQLite cannot read', () => {
  it('is refused as damaged_database naming replay-cache.db and what mends it, not as the driver bare error', () => {
    const dir = folder();
    writeFileSync(join(dir, 'replay-cache.db'), Buffer.alloc(4096, 0x5a), { mode: 0o600 });
    const error = refusalOf(() => openReplayCache({ dir }));
    expect(isCredenceError(error, 'damaged_database')).toBe(true);
    expect((error as Error).message).toContain('replay-cache.db');
    expect((error as Error).message).toContain('replay window');
  });
});

describe('under umask 000', () => {
  it('events.db, transparency.db, replay-cache.db and their -wal and -shm are made 0600', () => {
    const dir = folder();
    const previous = process.umask(0);
    try {
      const store = openSqliteStoreInDir(dir, { backgroundCheckpoints: false });
      const log = openTransparencyLogInDir(dir);
      const cache = new SqliteReplayCache({ path: join(dir, 'replay-cache.db'), windowSeconds: 60, maxEntries: 10 });
      const made = readdirSync(dir).filter((name) => /^(events|transparency|replay-cache)\.db(-wal|-shm)?$/.test(name));
      expect(made).toHaveLength(9);
      for (const name of made) expect([name, (statSync(join(dir, name)).mode & 0o777).toString(8)]).toEqual([name, '600']);
      cache.close();
      log.close();
      void store.close();
    } finally {
      process.umask(previous);
    }
  });
});

describe('the repair of stored subtree hashes', () => {
  it('makes a transparency.db a restore left readable by others, and its -wal, 0600 before writing to it', () => {
    const dir = folder();
    // Held open, so that the -wal stays while the repair runs (the last connection's close removes it).
    const log = openTransparencyLogInDir(dir);
    try {
      for (const name of ['transparency.db', 'transparency.db-wal']) chmodSync(join(dir, name), 0o644);
      expect(rebuildStoredSubtrees(dir)).toBe(0);
      for (const name of ['transparency.db', 'transparency.db-wal']) {
        expect([name, (statSync(join(dir, name)).mode & 0o777).toString(8)]).toEqual([name, '600']);
      }
    } finally {
      log.close();
    }
  });
});
