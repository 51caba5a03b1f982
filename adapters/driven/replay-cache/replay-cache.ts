import type Database from 'better-sqlite3';
import { basename, dirname } from 'node:path';
import { openPrivateSqlite, withPrivateUmask } from '../files/index.ts';

import type { ReplayCache, ReplayVerdict } from '../../../domain/ports/replay-cache.ts';

export interface ReplayCacheOptions {
  readonly windowSeconds: number;
  /** Live entries kept per namespace (see `ReplayCache.namespace`). */
  readonly maxEntries: number;
}

const checkOptions = (options: ReplayCacheOptions): void => {
  if (!(Number.isInteger(options.windowSeconds) && options.windowSeconds > 0)) throw new RangeError('windowSeconds must be a positive integer');
  if (!(Number.isInteger(options.maxEntries) && options.maxEntries > 0)) throw new RangeError('maxEntries must be a positive integer');
};

const checkName = (name: string): string => {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new TypeError('namespace name must be 1 to 256 characters');
  return name;
};
const nested = (parent: string, name: string): string => (parent === '' ? checkName(name) : `${parent}/${checkName(name)}`);

/*
 * Both caches keep an entry while `expiry >= now` and evict it once `expiry < now`: inclusive, like `assertFresh`,
 * so the instant a message is last fresh is an instant its nonce is still remembered (issue 11 item 10).
 */

/** key -> expiry (ms) per namespace; insertion order is roughly expiry order, which makes eviction cheap. */
type Spaces = Map<string, Map<string, number>>;

export class MemoryReplayCache implements ReplayCache {
  readonly windowSeconds: number;
  readonly #maxEntries: number;
  readonly #spaces: Spaces;
  readonly #name: string;

  constructor(options: ReplayCacheOptions, shared?: { readonly spaces: Spaces; readonly name: string }) {
    checkOptions(options);
    this.windowSeconds = options.windowSeconds;
    this.#maxEntries = options.maxEntries;
    this.#spaces = shared?.spaces ?? new Map();
    this.#name = shared?.name ?? '';
  }

  async remember(key: string, seenAt: Date): Promise<ReplayVerdict> {
    const entries = this.#live(seenAt.getTime());
    if (entries.has(key)) return 'replayed';
    if (entries.size >= this.#maxEntries) return 'full';
    entries.set(key, seenAt.getTime() + this.windowSeconds * 1000);
    return 'fresh';
  }

  async seen(key: string, at: Date): Promise<boolean> {
    return this.#live(at.getTime()).has(key);
  }

  namespace(name: string): MemoryReplayCache {
    return new MemoryReplayCache(
      { windowSeconds: this.windowSeconds, maxEntries: this.#maxEntries },
      { spaces: this.#spaces, name: nested(this.#name, name) },
    );
  }

  /** Live entries of this namespace, across every namespace sharing the store. */
  get size(): number {
    return this.#spaces.get(this.#name)?.size ?? 0;
  }

  close(): void {
    // nothing held outside memory
  }

  #live(now: number): Map<string, number> {
    let entries = this.#spaces.get(this.#name);
    if (entries === undefined) this.#spaces.set(this.#name, (entries = new Map()));
    for (const [k, expiry] of entries) {
      if (expiry >= now) break;
      entries.delete(k);
    }
    return entries;
  }
}

interface SqliteStatements {
  readonly remember: (namespace: string, key: string, now: number) => ReplayVerdict;
  readonly seen: (namespace: string, key: string, now: number) => boolean;
}

/** The same cache persisted in SQLite, so a restart does not reopen the replay window. */
export class SqliteReplayCache implements ReplayCache {
  readonly windowSeconds: number;
  readonly #maxEntries: number;
  readonly #db: Database.Database;
  readonly #statements: SqliteStatements;
  readonly #name: string;

  constructor(options: ReplayCacheOptions & { readonly path: string }, shared?: { readonly db: Database.Database; readonly statements: SqliteStatements; readonly name: string }) {
    checkOptions(options);
    this.windowSeconds = options.windowSeconds;
    this.#maxEntries = options.maxEntries;
    this.#name = shared?.name ?? '';
    if (shared) {
      this.#db = shared.db;
      this.#statements = shared.statements;
      return;
    }
    // Like every data file (README "every file in it 0600"), through the data folder's opener: a copy a restore left
    // 0644, or its -wal/-shm, is tightened and one of another account refused (review 47 item 2), its folder must be
    // private, and a -wal left without the file is refused: SQLite would delete it, and with it nonces still in the
    // window. FULL: a remembered nonce must survive a power loss too, or a replay slips in after a restart (SER-012).
    const location = options.path === ':memory:' ? ({ memory: true } as const) : { dir: dirname(options.path) };
    this.#db = withPrivateUmask(() => openPrivateSqlite(location, { file: basename(options.path), synchronous: 'FULL' }));
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS replay_entries (
        namespace TEXT NOT NULL, key TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS replay_entries_expiry ON replay_entries (expires_at);`);
    migrateLegacyTable(this.#db);
    const evict = this.#db.prepare('DELETE FROM replay_entries WHERE expires_at < ?');
    const find = this.#db.prepare('SELECT expires_at FROM replay_entries WHERE namespace = ? AND key = ?').pluck();
    const count = this.#db.prepare('SELECT COUNT(*) FROM replay_entries WHERE namespace = ?').pluck();
    const insert = this.#db.prepare('INSERT INTO replay_entries (namespace, key, expires_at) VALUES (?, ?, ?)');
    const windowMs = this.windowSeconds * 1000;
    const maxEntries = this.#maxEntries;
    this.#statements = {
      remember: this.#db.transaction((namespace: string, key: string, now: number): ReplayVerdict => {
        evict.run(now);
        if (find.get(namespace, key) !== undefined) return 'replayed';
        if ((count.get(namespace) as number) >= maxEntries) return 'full';
        insert.run(namespace, key, now + windowMs);
        return 'fresh';
      }),
      seen: (namespace, key, now) => {
        const expiry = find.get(namespace, key) as number | undefined;
        return expiry !== undefined && expiry >= now;
      },
    };
  }

  async remember(key: string, seenAt: Date): Promise<ReplayVerdict> {
    return this.#statements.remember(this.#name, key, seenAt.getTime());
  }

  async seen(key: string, at: Date): Promise<boolean> {
    return this.#statements.seen(this.#name, key, at.getTime());
  }

  namespace(name: string): SqliteReplayCache {
    return new SqliteReplayCache(
      { windowSeconds: this.windowSeconds, maxEntries: this.#maxEntries, path: '' },
      { db: this.#db, statements: this.#statements, name: nested(this.#name, name) },
    );
  }

  /** Closes the file for every namespace of it. */
  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/**
 * Files from before namespaces kept `<protocol>:<responder>:nonce:<n>` keys in `replay_cache`: they move to the
 * namespace the protocol ends now use (`<protocol>:<responder>`), so an upgrade does not reopen the window.
 */
const migrateLegacyTable = (db: Database.Database): void => {
  const legacy = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'replay_cache'").get();
  if (legacy === undefined) return;
  db.transaction(() => {
    const insert = db.prepare('INSERT OR IGNORE INTO replay_entries (namespace, key, expires_at) VALUES (?, ?, ?)');
    for (const row of db.prepare('SELECT key, expires_at FROM replay_cache').iterate() as Iterable<{ key: string; expires_at: number }>) {
      const match = /^(.*):((?:nonce|transcript):[^:]*)$/.exec(row.key);
      insert.run(match?.[1] ?? '', match?.[2] ?? row.key, row.expires_at);
    }
    db.exec('DROP TABLE replay_cache');
  })();
};
