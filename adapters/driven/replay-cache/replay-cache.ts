import Database from 'better-sqlite3';

import type { ReplayCache, ReplayVerdict } from '../../../domain/ports/replay-cache.ts';

export interface ReplayCacheOptions {
  readonly windowSeconds: number;
  readonly maxEntries: number;
}

const checkOptions = (options: ReplayCacheOptions): void => {
  if (!(Number.isInteger(options.windowSeconds) && options.windowSeconds > 0)) throw new RangeError('windowSeconds must be a positive integer');
  if (!(Number.isInteger(options.maxEntries) && options.maxEntries > 0)) throw new RangeError('maxEntries must be a positive integer');
};

export class MemoryReplayCache implements ReplayCache {
  readonly windowSeconds: number;
  readonly #maxEntries: number;
  /** key -> expiry (ms); insertion order is roughly expiry order, which makes eviction cheap. */
  readonly #entries = new Map<string, number>();

  constructor(options: ReplayCacheOptions) {
    checkOptions(options);
    this.windowSeconds = options.windowSeconds;
    this.#maxEntries = options.maxEntries;
  }

  async remember(key: string, seenAt: Date): Promise<ReplayVerdict> {
    const now = seenAt.getTime();
    for (const [k, expiry] of this.#entries) {
      if (expiry > now) break;
      this.#entries.delete(k);
    }
    const expiry = this.#entries.get(key);
    if (expiry !== undefined && expiry > now) return 'replayed';
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) return 'full';
    this.#entries.set(key, now + this.windowSeconds * 1000);
    return 'fresh';
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The same cache persisted in SQLite, so a restart does not reopen the replay window. */
export class SqliteReplayCache implements ReplayCache {
  readonly windowSeconds: number;
  readonly #maxEntries: number;
  readonly #db: Database.Database;
  readonly #remember: (key: string, now: number) => ReplayVerdict;

  constructor(options: ReplayCacheOptions & { readonly path: string }) {
    checkOptions(options);
    this.windowSeconds = options.windowSeconds;
    this.#maxEntries = options.maxEntries;
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS replay_cache (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS replay_cache_expiry ON replay_cache (expires_at);`);
    const evict = this.#db.prepare('DELETE FROM replay_cache WHERE expires_at <= ?');
    const find = this.#db.prepare('SELECT expires_at FROM replay_cache WHERE key = ?').pluck();
    const count = this.#db.prepare('SELECT COUNT(*) FROM replay_cache').pluck();
    const insert = this.#db.prepare('INSERT INTO replay_cache (key, expires_at) VALUES (?, ?)');
    this.#remember = this.#db.transaction((key: string, now: number): ReplayVerdict => {
      evict.run(now);
      if (find.get(key) !== undefined) return 'replayed';
      if ((count.get() as number) >= this.#maxEntries) return 'full';
      insert.run(key, now + this.windowSeconds * 1000);
      return 'fresh';
    });
  }

  async remember(key: string, seenAt: Date): Promise<ReplayVerdict> {
    return this.#remember(key, seenAt.getTime());
  }

  close(): void {
    this.#db.close();
  }
}
