import Database from 'better-sqlite3';
import type { KeyHandle, KeyKind } from '../../../domain/ports/secure-environment.ts';

/** A key as stored: metadata in clear, key bytes only as an AEAD box under the KEK. */
export interface SealedKeyRecord {
  readonly handle: KeyHandle;
  readonly owner: string;
  readonly kind: KeyKind;
  readonly ephemeral: boolean;
  readonly extractable: boolean;
  readonly publicKey?: Uint8Array;
  readonly fingerprint: string;
  readonly sealed: Uint8Array;
  readonly createdAt: string;
}

interface Row {
  handle: string;
  owner: string;
  kind: string;
  extractable: number;
  public_key: Buffer | null;
  fingerprint: string;
  sealed: Buffer;
  created_at: string;
}

/**
 * Persistent keys in SQLite, ephemeral ones in memory (still sealed). `secure_delete` makes SQLite overwrite a
 * deleted row's bytes, and the rollback journal (not WAL) keeps no stale page copies once a delete commits:
 * together they make destroy() crypto-shredding rather than unlinking.
 */
export class SealedKeyStore {
  readonly #db: Database.Database;
  readonly #memory = new Map<string, SealedKeyRecord>();
  readonly #insert: Database.Statement;
  readonly #select: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #getMeta: Database.Statement;
  readonly #setMeta: Database.Statement;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('secure_delete = ON');
    this.#db.pragma('journal_mode = DELETE');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS se_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS se_keys (
        handle TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL, extractable INTEGER NOT NULL,
        public_key BLOB, fingerprint TEXT NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL
      );`);
    this.#insert = this.#db.prepare(
      `INSERT INTO se_keys (handle, owner, kind, extractable, public_key, fingerprint, sealed, created_at)
       VALUES (@handle, @owner, @kind, @extractable, @public_key, @fingerprint, @sealed, @created_at)`,
    );
    this.#select = this.#db.prepare('SELECT * FROM se_keys WHERE handle = ?');
    this.#delete = this.#db.prepare('DELETE FROM se_keys WHERE handle = ?');
    this.#getMeta = this.#db.prepare('SELECT value FROM se_meta WHERE name = ?');
    this.#setMeta = this.#db.prepare('INSERT INTO se_meta (name, value) VALUES (?, ?)');
  }

  put(record: SealedKeyRecord): void {
    if (record.ephemeral) {
      this.#memory.set(record.handle, record);
      return;
    }
    this.#insert.run({
      handle: record.handle,
      owner: record.owner,
      kind: record.kind,
      extractable: record.extractable ? 1 : 0,
      public_key: record.publicKey ? Buffer.from(record.publicKey) : null,
      fingerprint: record.fingerprint,
      sealed: Buffer.from(record.sealed),
      created_at: record.createdAt,
    });
  }

  get(handle: KeyHandle): SealedKeyRecord | undefined {
    const inMemory = this.#memory.get(handle);
    if (inMemory) return inMemory;
    const row = this.#select.get(handle) as Row | undefined;
    if (!row) return undefined;
    return {
      handle,
      owner: row.owner,
      kind: row.kind as KeyKind,
      ephemeral: false,
      extractable: row.extractable === 1,
      ...(row.public_key ? { publicKey: new Uint8Array(row.public_key) } : {}),
      fingerprint: row.fingerprint,
      sealed: new Uint8Array(row.sealed),
      createdAt: row.created_at,
    };
  }

  delete(handle: KeyHandle): boolean {
    const inMemory = this.#memory.get(handle);
    if (inMemory) {
      inMemory.sealed.fill(0);
      return this.#memory.delete(handle);
    }
    return this.#delete.run(handle).changes > 0;
  }

  getMeta(name: string): Uint8Array | undefined {
    const row = this.#getMeta.get(name) as { value: Buffer } | undefined;
    return row ? new Uint8Array(row.value) : undefined;
  }

  setMeta(name: string, value: Uint8Array): void {
    this.#setMeta.run(name, Buffer.from(value));
  }

  close(): void {
    for (const record of this.#memory.values()) record.sealed.fill(0);
    this.#memory.clear();
    this.#db.close();
  }
}
