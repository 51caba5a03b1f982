import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { assertOwnedByProcessIfPresent, DATA_FILE_MODE, withPrivateUmask } from '../files/index.ts';
import type { KeyHandle, KeyKind, KeyUsage } from '../../../domain/ports/secure-environment.ts';
import { refuseNewerKeyDatabase } from './key-database-format.ts';
import { ownedKeyOfRow, type OwnedKey } from './listed-row.ts';

/** A key as stored: metadata in clear (authenticated by the seal's AAD), key bytes only as an AEAD box. */
export interface SealedKeyRecord {
  readonly handle: KeyHandle;
  readonly owner: string;
  readonly kind: KeyKind;
  readonly usage?: KeyUsage;
  readonly ephemeral: boolean;
  readonly extractable: boolean;
  readonly publicKey?: Uint8Array;
  readonly fingerprint: string;
  /** The key bytes sealed under the key's own wrapping key. */
  readonly sealed: Uint8Array;
  readonly createdAt: string;
}

export type { OwnedKey } from './listed-row.ts';

/**
 * se_meta's time of the latest make or destroy of a stored key, in milliseconds since the epoch, written in the same
 * transaction as the change. A high-water mark (the greater of the stored value and the change's time): a clock set
 * back never lowers it, so it is at or after the creation time of every key this database (and the copies it was
 * restored from) ever stored, which is what tells a key destroyed since a backup from one made after the restore
 * (destroyed-since.ts). The times are the Secure Environment's clock: a key's `createdAt`, a destroy's `at`.
 */
export const LAST_CHANGE = 'last_change';

interface Row {
  handle: string;
  owner: string;
  kind: string;
  usage: string | null;
  extractable: number;
  public_key: Buffer | null;
  fingerprint: string;
  sealed: Buffer;
  created_at: string;
}

/**
 * Two SQLite files in one connection: the key database (`main`, table se_keys: each key sealed under its own
 * wrapping key) and the wrapping-key database attached as `wrap` (table se_wrapping_keys: each wrapping key sealed
 * under the KEK). A key and its wrapping key are written and deleted in one transaction; with rollback journals
 * SQLite commits both files atomically (its super-journal), so a crash leaves both or neither. Ephemeral keys and
 * their wrapping keys stay in memory.
 *
 * `secure_delete` overwrites a deleted row's bytes in both files, and the rollback journal (not WAL) is deleted
 * when a transaction commits, so no page copy is kept by SQLite once destroy() returns.
 */
type Statements = Record<
  | 'insert'
  | 'insertWrap'
  | 'select'
  | 'selectWrap'
  | 'delete'
  | 'deleteWrap'
  | 'count'
  | 'all'
  | 'allWrap'
  | 'replaceWrap'
  | 'owned'
  | 'reseal'
  | 'getMeta'
  | 'setMeta'
  | 'getWrapMeta'
  | 'setWrapMeta'
  | 'lastChange',
  Database.Statement
>;

export class SealedKeyStore {
  readonly #db: Database.Database;
  readonly #memory = new Map<string, { record: SealedKeyRecord; wrappingKey: Uint8Array }>();
  readonly #statements: Statements;
  /** True when this store made the wrapping-key file (an exclusive create: of processes racing, one at most). */
  readonly wrappingKeysCreated: boolean;

  constructor(path: string, wrappingKeysPath: string) {
    assertKeyFilesOwned(path, wrappingKeysPath);
    // Both files hold sealed key material: created private whoever opens the Secure Environment (SER-002).
    const opened = withPrivateUmask(() => {
      const db = new Database(path);
      try {
        // Before anything is written to either file (a table, a column, the wrapping-key file): see the module.
        refuseNewerKeyDatabase(db, path);
        // Before the ATTACH, which would create it too: only an exclusive create tells this process from another one
        // opening a new folder at the same moment (checking for the file first lets both believe they made it).
        const created = wrappingKeysPath !== ':memory:' && createExclusively(wrappingKeysPath);
        db.prepare('ATTACH DATABASE ? AS wrap').run(wrappingKeysPath);
        return { db, created };
      } catch (error) {
        db.close();
        throw error;
      }
    });
    this.#db = opened.db;
    this.wrappingKeysCreated = opened.created;
    try {
      this.#statements = this.#setUp();
    } catch (error) {
      // The connection holds both files open (and their locks): closed on a refusal, not left to the collector.
      this.#db.close();
      throw error;
    }
  }

  #setUp(): Statements {
    for (const schema of ['main', 'wrap']) {
      this.#db.pragma(`${schema}.secure_delete = ON`);
      this.#db.pragma(`${schema}.journal_mode = DELETE`);
    }
    // Immediate: two processes upgrading one format-1 database at once would otherwise both add the column.
    this.#db.transaction(() => {
      this.#db.exec(`
        CREATE TABLE IF NOT EXISTS main.se_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS main.se_keys (
          handle TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL, extractable INTEGER NOT NULL,
          public_key BLOB, fingerprint TEXT NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL, usage TEXT
        );
        CREATE TABLE IF NOT EXISTS wrap.se_wrap_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS wrap.se_wrapping_keys (handle TEXT PRIMARY KEY, sealed BLOB NOT NULL);`);
      // Databases written before wrapping keys existed (format 1) lack the usage column.
      const columns = this.#db.prepare('SELECT name FROM pragma_table_info(?)').all('se_keys') as { name: string }[];
      if (!columns.some((c) => c.name === 'usage')) this.#db.exec('ALTER TABLE main.se_keys ADD COLUMN usage TEXT');
      // listKeys pages one owner's keys in handle order without reading any other owner's.
      this.#db.exec('CREATE INDEX IF NOT EXISTS main.se_keys_by_owner ON se_keys (owner, handle)');
    }).immediate();
    const prepare = (sql: string) => this.#db.prepare(sql);
    return {
      insert: prepare(
        `INSERT INTO main.se_keys (handle, owner, kind, usage, extractable, public_key, fingerprint, sealed, created_at)
         VALUES (@handle, @owner, @kind, @usage, @extractable, @public_key, @fingerprint, @sealed, @created_at)`,
      ),
      insertWrap: prepare('INSERT INTO wrap.se_wrapping_keys (handle, sealed) VALUES (?, ?)'),
      select: prepare('SELECT * FROM main.se_keys WHERE handle = ?'),
      selectWrap: prepare('SELECT sealed FROM wrap.se_wrapping_keys WHERE handle = ?'),
      delete: prepare('DELETE FROM main.se_keys WHERE handle = ?'),
      deleteWrap: prepare('DELETE FROM wrap.se_wrapping_keys WHERE handle = ?'),
      count: prepare('SELECT count(*) AS n FROM main.se_keys'),
      all: prepare('SELECT * FROM main.se_keys ORDER BY handle'),
      allWrap: prepare('SELECT handle, sealed FROM wrap.se_wrapping_keys ORDER BY handle'),
      replaceWrap: prepare('UPDATE wrap.se_wrapping_keys SET sealed = ? WHERE handle = ?'),
      // Only keys whose wrapping key is there: one without it is destroyed (a row restored from a backup opens nothing).
      owned: prepare(
        `SELECT k.handle, k.kind, k.usage, k.created_at FROM main.se_keys k
         WHERE k.owner = ? AND k.handle > ? AND EXISTS (SELECT 1 FROM wrap.se_wrapping_keys w WHERE w.handle = k.handle)
         ORDER BY k.handle LIMIT ?`,
      ),
      reseal: prepare('UPDATE main.se_keys SET usage = ?, sealed = ? WHERE handle = ?'),
      getMeta: prepare('SELECT value FROM main.se_meta WHERE name = ?'),
      setMeta: prepare('INSERT OR REPLACE INTO main.se_meta (name, value) VALUES (?, ?)'),
      getWrapMeta: prepare('SELECT value FROM wrap.se_wrap_meta WHERE name = ?'),
      setWrapMeta: prepare('INSERT OR REPLACE INTO wrap.se_wrap_meta (name, value) VALUES (?, ?)'),
      lastChange: prepare(`INSERT INTO main.se_meta (name, value) VALUES ('${LAST_CHANGE}', ?) ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`),
    };
  }

  /**
   * Runs `work` in one transaction over both files, holding the write lock of both from its start (BEGIN IMMEDIATE
   * takes them in one order, main then wrap): what it reads cannot change under it, so another process's first open
   * waits (busy timeout) and then reads what this one wrote; and two processes never each hold one file's lock
   * waiting for the other's, as a deferred transaction writing `wrap` first and another writing `main` first would.
   */
  transaction<T>(work: () => T): T {
    return this.#db.transaction(work).immediate();
  }

  /** Stores a key and its sealed wrapping key together (one transaction), or both in memory when ephemeral. */
  put(record: SealedKeyRecord, wrappingKey: Uint8Array): void {
    if (record.ephemeral) {
      this.#memory.set(record.handle, { record, wrappingKey });
      return;
    }
    this.transaction(() => {
      this.#statements.insertWrap.run(record.handle, Buffer.from(wrappingKey));
      this.#statements.insert.run({
        handle: record.handle,
        owner: record.owner,
        kind: record.kind,
        usage: record.usage ?? null,
        extractable: record.extractable ? 1 : 0,
        public_key: record.publicKey ? Buffer.from(record.publicKey) : null,
        fingerprint: record.fingerprint,
        sealed: Buffer.from(record.sealed),
        created_at: record.createdAt,
      });
      this.#changed(record.createdAt);
    });
  }

  /** Raises the time of the last make or destroy to `at` (inside the change's transaction). */
  #changed(at: string): void {
    const time = Date.parse(at);
    if (!Number.isFinite(time)) throw new TypeError(`at: ${JSON.stringify(at)} is no ISO 8601 time`);
    this.#statements.lastChange.run(time);
  }

  get(handle: KeyHandle): SealedKeyRecord | undefined {
    const inMemory = this.#memory.get(handle);
    if (inMemory) return inMemory.record;
    const row = this.#statements.select.get(handle) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** The key's sealed wrapping key; undefined once the key is destroyed (whatever became of its row). */
  wrappingKey(handle: KeyHandle): Uint8Array | undefined {
    const inMemory = this.#memory.get(handle);
    if (inMemory) return inMemory.wrappingKey;
    const row = this.#statements.selectWrap.get(handle) as { sealed: Buffer } | undefined;
    return row ? new Uint8Array(row.sealed) : undefined;
  }

  /** Deletes the key and its wrapping key in one transaction; `at` (ISO 8601, the Secure Environment's clock) is when. */
  delete(handle: KeyHandle, at: string): boolean {
    const inMemory = this.#memory.get(handle);
    if (inMemory) {
      inMemory.record.sealed.fill(0);
      inMemory.wrappingKey.fill(0);
      return this.#memory.delete(handle);
    }
    return this.transaction(() => {
      const wrapping = this.#statements.deleteWrap.run(handle).changes;
      const gone = this.#statements.delete.run(handle).changes + wrapping > 0;
      if (gone) this.#changed(at);
      return gone;
    });
  }

  /**
   * Up to `count` of `owner`'s keys whose handle sorts after `after`, in handle order, ephemeral ones included:
   * metadata only (as stored, not authenticated: describe() opens the seal), never the sealed bytes. A row that is
   * no listable key (listed-row.ts) is passed over and another read in its place: it neither shortens the page (a
   * short page ends the paging) nor becomes its cursor.
   */
  owned(owner: string, after: string, count: number): OwnedKey[] {
    const stored: OwnedKey[] = [];
    for (let from = after; stored.length < count; ) {
      const wanted = count - stored.length;
      const rows = this.#statements.owned.all(owner, from, wanted) as Pick<Row, 'handle'>[];
      for (const row of rows) {
        const key = ownedKeyOfRow(row);
        if (key !== undefined) stored.push(key);
      }
      if (rows.length < wanted) break;
      from = rows.at(-1)!.handle;
    }
    const inMemory = [...this.#memory.values()]
      .map(({ record }) => record)
      .filter((record) => record.owner === owner && record.handle > after)
      .map(({ handle, kind, usage, createdAt }) => ({ handle, kind, ...(usage ? { usage } : {}), ephemeral: true, createdAt }));
    return [...stored, ...inMemory].sort((a, b) => (a.handle < b.handle ? -1 : 1)).slice(0, count);
  }

  storedKeyCount(): number {
    return (this.#statements.count.get() as { n: number }).n;
  }

  /** Every stored (non-ephemeral) key, for the one-off upgrade of a format-1 database. */
  allStored(): SealedKeyRecord[] {
    return (this.#statements.all.all() as Row[]).map(fromRow);
  }

  /** Replaces a stored key's usage and sealed bytes and adds its wrapping key (inside a transaction). */
  reseal(handle: KeyHandle, usage: KeyUsage | undefined, sealed: Uint8Array, wrappingKey: Uint8Array): void {
    this.#statements.reseal.run(usage ?? null, Buffer.from(sealed), handle);
    this.#statements.insertWrap.run(handle, Buffer.from(wrappingKey));
  }

  /**
   * Every stored wrapping key, sealed under the KEK, for `credence kek rotate`; a row whose key row is gone is among
   * them (it opens nothing without that row, and is re-sealed all the same).
   */
  allWrappingKeys(): { readonly handle: KeyHandle; readonly sealed: Uint8Array }[] {
    return (this.#statements.allWrap.all() as { handle: string; sealed: Buffer }[]).map((row) => ({ handle: row.handle as KeyHandle, sealed: new Uint8Array(row.sealed) }));
  }

  /** Replaces a stored wrapping key's seal (inside a transaction: a KEK rotation re-seals all of them at once). */
  replaceWrappingKey(handle: KeyHandle, sealed: Uint8Array): void {
    this.#statements.replaceWrap.run(Buffer.from(sealed), handle);
  }

  /** Replaces each ephemeral key's sealed wrapping key with what `reseal` makes of it (a KEK rotation, once committed). */
  resealEphemeralWrappingKeys(reseal: (handle: KeyHandle, sealed: Uint8Array) => Uint8Array): void {
    for (const [handle, entry] of this.#memory) {
      const next = reseal(handle as KeyHandle, entry.wrappingKey);
      entry.wrappingKey.fill(0);
      this.#memory.set(handle, { record: entry.record, wrappingKey: next });
    }
  }

  getMeta(name: string): Uint8Array | undefined {
    const row = this.#statements.getMeta.get(name) as { value: Buffer } | undefined;
    return row ? new Uint8Array(row.value) : undefined;
  }

  setMeta(name: string, value: Uint8Array): void {
    this.#statements.setMeta.run(name, Buffer.from(value));
  }

  getWrapMeta(name: string): Uint8Array | undefined {
    const row = this.#statements.getWrapMeta.get(name) as { value: Buffer } | undefined;
    return row ? new Uint8Array(row.value) : undefined;
  }

  setWrapMeta(name: string, value: Uint8Array): void {
    this.#statements.setWrapMeta.run(name, Buffer.from(value));
  }

  close(): void {
    for (const { record, wrappingKey } of this.#memory.values()) {
      record.sealed.fill(0);
      wrappingKey.fill(0);
    }
    this.#memory.clear();
    this.#db.close();
  }
}

/**
 * The key database and the wrapping-key file, where they exist, belong to this process's account (review 47 item 1):
 * another account's copy could be swapped for one it sealed, or read by it whatever its mode. Checked before anything
 * is created, the KEK included.
 */
export const assertKeyFilesOwned = (path: string, wrappingKeysPath: string): void => {
  for (const file of [path, wrappingKeysPath]) if (file !== ':memory:') assertOwnedByProcessIfPresent(file, 'database', 'Secure Environment configuration');
};

/** An empty (valid) SQLite file made with O_EXCL: true when this call made it, false when it was there. */
const createExclusively = (path: string): boolean => {
  try {
    closeSync(openSync(path, 'wx', DATA_FILE_MODE));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
};

const fromRow = (row: Row): SealedKeyRecord => ({
  handle: row.handle as KeyHandle,
  owner: row.owner,
  kind: row.kind as KeyKind,
  ...(row.usage !== null ? { usage: row.usage as KeyUsage } : {}),
  ephemeral: false,
  extractable: row.extractable === 1,
  ...(row.public_key ? { publicKey: new Uint8Array(row.public_key) } : {}),
  fingerprint: row.fingerprint,
  sealed: new Uint8Array(row.sealed),
  createdAt: row.created_at,
});
