import Database from 'better-sqlite3';
import { validationError } from '../../../domain/errors.ts';
import { openPrivateSqlite, writingTo, type PrivateSqliteLocation } from '../files/index.ts';
import { newerFileVersion } from '../files/newer-file-version.ts';
import { readOnlyDatabase } from '../files/read-only-database.ts';
import type { EpochMarks, NodeEpoch } from '../../../projections/pseudonyms/epoch-marks.ts';
import { refuseRegistryMissingTables } from './registry-tables.ts';

export const KEY_REGISTRY_DB_FILE = 'keys.db';

/**
 * 2: `se_key_destroy_failures` (keys the shredder owes). A version 1 file gains the table at its first open.
 * `key_pair_provisioning_runs` is made at every open (`IF NOT EXISTS`) without a version of its own: it binds no key,
 * so an earlier build of version 2 may open a file that has it (its runs are then only not ended, as that build never
 * ended them), and the readers of bindings (bound-handles.ts) and the missing-table check need not know it: a file
 * that lost it loses no key, only the record of runs cut short, left `initialized` as they were before it.
 * `pseudonym_epoch_marks` likewise (review 149): the epoch each node's pseudonym was given out at, kept here beside the
 * pseudonym key's binding because an `events.db` restored from a backup loses the rotations since and this file does
 * not (projections/pseudonyms/epoch-marks.ts). An earlier build leaves it as it stands.
 * `shredder_mark` has no version either (review 198): the last ending whose keys the shredder destroyed in this file,
 * kept here and not with the shredder's checkpoint in `readmodels.db`, so that a `keys.db` put back from a backup brings
 * back its own older mark and the start destroys again the keys of the endings since
 * (adapters/runtime/keys-shredded-again.ts). Made with the first mark, not at open: a file that never had one stays as
 * earlier versions made it, and one without it (an earlier version's) reads as having none. An earlier build leaves it
 * as it stands, then only lower than its last destruction, which costs a start a longer pass, never a key.
 * `epoch_marks_changes` has no version either (review 404): when a mark last rose in this file, and when `credence
 * pseudonym raise-marks-since-backup` last carried marks into it, kept in the file so that a copy, a move or a change
 * of its mode or owner keeps them as they were (its inode change time does not). Made with the first of them, as
 * `shredder_mark`; a file without it (an earlier version's) has neither recorded. Review 412: beside the time of that
 * run, the digest of what it carried over (`raised_since_backup_from`), added to a table made without it at the next
 * run; a file without it records no run the command can take for a run again.
 */
const SCHEMA_VERSION = 2;
const TABLE = 'se_key_handles';
const FAILURES = 'se_key_destroy_failures';
const KEY_PAIR_RUNS = 'key_pair_provisioning_runs';
const EPOCH_MARKS = 'pseudonym_epoch_marks';
const SHREDDER_MARK = 'shredder_mark';
const SCHEMA = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  stream TEXT NOT NULL,
  handle TEXT NOT NULL,
  purpose TEXT NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0,
  destroyed_at TEXT,
  PRIMARY KEY (stream, handle)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${FAILURES} (
  stream TEXT NOT NULL,
  handle TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failed_at TEXT NOT NULL,
  PRIMARY KEY (stream, handle)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${KEY_PAIR_RUNS} (
  credential_id TEXT NOT NULL PRIMARY KEY,
  began_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${EPOCH_MARKS} (
  node_id TEXT NOT NULL PRIMARY KEY,
  epoch INTEGER NOT NULL
) WITHOUT ROWID`;
const SHREDDER_MARK_TABLE = `CREATE TABLE IF NOT EXISTS ${SHREDDER_MARK} (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  position INTEGER NOT NULL,
  event_id TEXT,
  occurred_at TEXT NOT NULL
)`;
const MARKS_CHANGES = 'epoch_marks_changes';
const MARKS_CHANGES_TABLE = `CREATE TABLE IF NOT EXISTS ${MARKS_CHANGES} (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  marks_raised_at TEXT,
  raised_since_backup_at TEXT,
  raised_since_backup_from TEXT
)`;
const CARRIED_FROM = 'raised_since_backup_from';
const READ_SHREDDER_MARK = `SELECT position, event_id, occurred_at FROM ${SHREDDER_MARK}`;
const WRITE_SHREDDER_MARK = `INSERT INTO ${SHREDDER_MARK} (one, position, event_id, occurred_at) VALUES (1, ?, ?, ?)
  ON CONFLICT (one) DO UPDATE SET position = excluded.position, event_id = excluded.event_id, occurred_at = excluded.occurred_at`;

/**
 * An event of the log, as a projection's checkpoint names it (its position, id and `occurredAt`): what the shredder
 * handled last in this file. The id is absent when it was taken from a checkpoint written before ids were kept.
 */
export interface ShredderMark {
  readonly position: bigint;
  readonly eventId?: string;
  readonly occurredAt: string;
}

/** A key the shredder failed to destroy (KeyRegistry.owed, adapters/protocols/procedures/key-registry.ts). */
interface OwedKey {
  readonly stream: string;
  readonly handle: string;
  readonly purpose: string;
  readonly failures: number;
  readonly lastFailedAt: Date;
}

interface Row {
  stream: string;
  handle: string;
  purpose: string;
  destroyed_at: string | null;
}

/**
 * The key registry (adapters/protocols/procedures/key-registry.ts) in `<data>/keys.db`: durable state, not a read
 * model. Deleting and rebuilding `readmodels.db` must leave every binding in place, since no event can bring a
 * handle back: a lost binding means new signing keys (devices pin the old ones), new pseudonyms, and keys the
 * shredder no longer finds. Hence its own file, 0600, WAL with synchronous FULL (a binding acknowledged is on disk
 * before the append that depends on it).
 */
export class SqliteKeyRegistry implements EpochMarks {
  readonly #db: Database.Database;
  readonly #sql;

  private constructor(db: Database.Database) {
    this.#db = db;
    this.#sql = {
      register: db.prepare(`INSERT OR IGNORE INTO ${TABLE} (stream, handle, purpose, pending) VALUES (?, ?, ?, ?)`),
      confirm: db.prepare(`UPDATE ${TABLE} SET pending = 0 WHERE stream = ? AND handle = ?`),
      // An owed key (its destruction refused) is being discarded: never handed out for use again.
      live: db.prepare(
        `SELECT handle, purpose FROM ${TABLE} k WHERE stream = ? AND destroyed_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${FAILURES} f WHERE f.stream = k.stream AND f.handle = k.handle) ORDER BY handle`,
      ),
      // An owed one is the shredder's to retry, with its back-off: a start's sweep does not try it again.
      pending: db.prepare(
        `SELECT stream, handle, purpose FROM ${TABLE} k WHERE pending = 1 AND destroyed_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${FAILURES} f WHERE f.stream = k.stream AND f.handle = k.handle) ORDER BY stream, handle`,
      ),
      destroyed: db.prepare(`UPDATE ${TABLE} SET destroyed_at = ? WHERE stream = ? AND handle = ?`),
      forgetFailures: db.prepare(`DELETE FROM ${FAILURES} WHERE stream = ? AND handle = ?`),
      failed: db.prepare(
        `INSERT INTO ${FAILURES} (stream, handle, failures, last_failed_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (stream, handle) DO UPDATE SET failures = failures + 1, last_failed_at = excluded.last_failed_at`,
      ),
      owed: db.prepare(
        `SELECT f.stream, f.handle, k.purpose, f.failures, f.last_failed_at FROM ${FAILURES} f
         JOIN ${TABLE} k ON k.stream = f.stream AND k.handle = f.handle
         WHERE k.destroyed_at IS NULL ORDER BY f.last_failed_at, f.stream, f.handle`,
      ),
      beginKeyPairRun: db.prepare(`INSERT OR IGNORE INTO ${KEY_PAIR_RUNS} (credential_id, began_at) VALUES (?, ?)`),
      endKeyPairRun: db.prepare(`DELETE FROM ${KEY_PAIR_RUNS} WHERE credential_id = ?`),
      keyPairRuns: db.prepare(`SELECT credential_id, began_at FROM ${KEY_PAIR_RUNS} ORDER BY began_at, credential_id`),
      epochMark: db.prepare(`SELECT epoch FROM ${EPOCH_MARKS} WHERE node_id = ?`).pluck(),
      raiseEpochMark: db.prepare(
        `INSERT INTO ${EPOCH_MARKS} (node_id, epoch) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET epoch = excluded.epoch WHERE excluded.epoch > epoch`,
      ),
      epochMarks: db.prepare(`SELECT node_id, epoch FROM ${EPOCH_MARKS} ORDER BY node_id`),
      hasShredderMark: db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '${SHREDDER_MARK}'`),
    };
  }

  /**
   * Opens `<dir>/keys.db` (or an in-memory registry). `legacy`: the read-model database that held the registry
   * before it had a file of its own; its bindings are moved here (copied, committed, then dropped there), once.
   * A file that lost a table is refused (`damaged_database`) with nothing written: made again, it would bind nothing.
   */
  static open(location: PrivateSqliteLocation, options: { readonly legacy?: Database.Database } = {}): SqliteKeyRegistry {
    if ('dir' in location) {
      refuseRegistryMissingTables(location.dir, {
        file: KEY_REGISTRY_DB_FILE,
        tables: { [TABLE]: { since: 1, holds: 'which keys it binds' }, [FAILURES]: { since: 2, holds: 'which keys the shredder owes' } },
      });
    }
    const db = openPrivateSqlite(location, {
      file: KEY_REGISTRY_DB_FILE,
      synchronous: 'FULL',
      schema: { what: 'key registry', version: SCHEMA_VERSION, sql: SCHEMA },
    });
    try {
      if (options.legacy !== undefined) moveLegacyBindings(options.legacy, db);
      return new SqliteKeyRegistry(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  register(stream: string, handle: string, purpose: string, options: { readonly pending?: boolean } = {}): void {
    writingTo(KEY_REGISTRY_DB_FILE, () => this.#sql.register.run(stream, handle, purpose, options.pending === true ? 1 : 0));
  }

  confirm(stream: string, handle: string): void {
    writingTo(KEY_REGISTRY_DB_FILE, () => this.#sql.confirm.run(stream, handle));
  }

  live(stream: string, purpose?: string): string[] {
    const rows = this.#sql.live.all(stream) as { handle: string; purpose: string }[];
    return rows.filter((r) => purpose === undefined || r.purpose === purpose).map((r) => r.handle);
  }

  pending(): { stream: string; handle: string; purpose: string }[] {
    return (this.#sql.pending.all() as { stream: string; handle: string; purpose: string }[]).map((r) => ({ ...r }));
  }

  markDestroyed(stream: string, handle: string, at: Date): void {
    writingTo(KEY_REGISTRY_DB_FILE, () =>
      this.#db.transaction(() => {
        this.#sql.destroyed.run(at.toISOString(), stream, handle);
        this.#sql.forgetFailures.run(stream, handle);
      })(),
    );
  }

  destroyFailed(stream: string, handle: string, at: Date): void {
    writingTo(KEY_REGISTRY_DB_FILE, () => this.#sql.failed.run(stream, handle, at.toISOString()));
  }

  owed(): OwedKey[] {
    return (this.#sql.owed.all() as { stream: string; handle: string; purpose: string; failures: number; last_failed_at: string }[]).map((r) => ({
      stream: r.stream,
      handle: r.handle,
      purpose: r.purpose,
      failures: r.failures,
      lastFailedAt: new Date(r.last_failed_at),
    }));
  }

  /** Whether this call wrote the record: INSERT OR IGNORE leaves one already there, another run's, as it stands. */
  beginKeyPairRun(credentialId: string, at: Date): boolean {
    return writingTo(KEY_REGISTRY_DB_FILE, () => this.#sql.beginKeyPairRun.run(credentialId, at.toISOString())).changes === 1;
  }

  endKeyPairRun(credentialId: string): void {
    writingTo(KEY_REGISTRY_DB_FILE, () => this.#sql.endKeyPairRun.run(credentialId));
  }

  keyPairRuns(): { credentialId: string; beganAt: Date }[] {
    return (this.#sql.keyPairRuns.all() as { credential_id: string; began_at: string }[]).map((r) => ({
      credentialId: r.credential_id,
      beganAt: new Date(r.began_at),
    }));
  }

  epochMark(nodeId: string): number | undefined {
    const epoch = this.#sql.epochMark.get(nodeId) as number | bigint | undefined;
    return epoch === undefined ? undefined : Number(epoch);
  }

  /**
   * How many marks it raised: a mark as high or higher is left, and not counted. When one rose, the time is recorded
   * with it (`marks_raised_at`, ./marks-changes below), in the same transaction. `sinceBackup`: the marks of the folder
   * moved aside before a whole-folder restore, carried over by `credence pseudonym raise-marks-since-backup`, which is
   * recorded (`raised_since_backup_at`) whether or not any rose, with its value, the digest of the folder moved aside
   * whose marks they are (`raised_since_backup_from`, review 412): a run again with that folder knows it took them.
   */
  raiseEpochMarks(marks: readonly NodeEpoch[], options: { readonly sinceBackup?: string } = {}): number {
    if (marks.length === 0 && options.sinceBackup === undefined) return 0;
    return writingTo(KEY_REGISTRY_DB_FILE, () =>
      this.#db.transaction(() => {
        let raised = 0;
        for (const { nodeId, epoch } of marks) raised += this.#sql.raiseEpochMark.run(nodeId, epoch).changes;
        if (raised > 0 || options.sinceBackup !== undefined) {
          // Prepared here, after the table is made: rare (a rotation, a start that finds the log ahead, a restore).
          const at = new Date().toISOString();
          this.#db.exec(MARKS_CHANGES_TABLE);
          this.#db.prepare(`INSERT OR IGNORE INTO ${MARKS_CHANGES} (one) VALUES (1)`).run();
          if (raised > 0) this.#db.prepare(`UPDATE ${MARKS_CHANGES} SET marks_raised_at = ? WHERE one = 1`).run(at);
          if (options.sinceBackup !== undefined) {
            // A table review 404's version made has no column for the digest.
            if (!hasColumn(this.#db, CARRIED_FROM)) this.#db.exec(`ALTER TABLE ${MARKS_CHANGES} ADD COLUMN ${CARRIED_FROM} TEXT`);
            this.#db.prepare(`UPDATE ${MARKS_CHANGES} SET raised_since_backup_at = ?, ${CARRIED_FROM} = ? WHERE one = 1`).run(at, options.sinceBackup);
          }
        }
        return raised;
      }).immediate(),
    );
  }

  epochMarks(): NodeEpoch[] {
    return (this.#sql.epochMarks.all() as { node_id: string; epoch: number | bigint }[]).map((r) => ({ nodeId: r.node_id, epoch: Number(r.epoch) }));
  }

  /** The last ending the shredder handled in this file (ShredderMark), undefined when none was recorded. */
  shredderMark(): ShredderMark | undefined {
    if (this.#sql.hasShredderMark.get() === undefined) return undefined;
    // A position of EventStoreDB's log may pass 2^53: read as a bigint.
    const row = this.#db.prepare(READ_SHREDDER_MARK).safeIntegers(true).get() as { position: bigint; event_id: string | null; occurred_at: string } | undefined;
    if (row === undefined) return undefined;
    const mark = { position: row.position, occurredAt: row.occurred_at };
    return row.event_id === null ? mark : { ...mark, eventId: row.event_id };
  }

  /**
   * Replaces the mark, lower or higher: a lower one is only more to go over again (keys-shredded-again.ts). Prepared at
   * each call, after the table is made: a statement prepared before it would not compile, and the call is rare (after an
   * ending whose entity had keys, and once at a start).
   */
  setShredderMark(mark: ShredderMark): void {
    writingTo(KEY_REGISTRY_DB_FILE, () =>
      this.#db.transaction(() => {
        this.#db.exec(SHREDDER_MARK_TABLE);
        this.#db.prepare(WRITE_SHREDDER_MARK).run(mark.position, mark.eventId ?? null, mark.occurredAt);
      }).immediate(),
    );
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /**
   * When a mark last rose in the `keys.db` at `path`, and when marks were last carried into it from the folder moved
   * aside before a restore (raiseEpochMarks), as recorded in the file: either undefined when it has none (a version
   * before review 404 wrote it last, or no mark rose since), and the digest of what that run carried over
   * (`raisedSinceBackupFrom`, review 412; undefined when an earlier version ran it). Read on a read-only connection, as
   * readEpochMarks.
   */
  static readMarksChanges(path: string): {
    readonly marksRaisedAt?: number;
    readonly raisedSinceBackupAt?: number;
    readonly raisedSinceBackupFrom?: string;
  } {
    return readOnlyDatabase(path, (db) => {
      const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(MARKS_CHANGES);
      if (table === undefined) return {};
      const from = hasColumn(db, CARRIED_FROM) ? CARRIED_FROM : 'NULL';
      const row = db.prepare(`SELECT marks_raised_at, raised_since_backup_at, ${from} AS carried_from FROM ${MARKS_CHANGES} WHERE one = 1`).get() as
        | { marks_raised_at: unknown; raised_since_backup_at: unknown; carried_from: unknown }
        | undefined;
      // A value that is no time (no version writes one) is as none recorded: the caller falls back as for an earlier version's.
      const time = (value: unknown): number | undefined => (typeof value === 'string' && Number.isFinite(Date.parse(value)) ? Date.parse(value) : undefined);
      const [marksRaisedAt, raisedSinceBackupAt] = [time(row?.marks_raised_at), time(row?.raised_since_backup_at)];
      const raisedSinceBackupFrom = typeof row?.carried_from === 'string' && row.carried_from !== '' ? row.carried_from : undefined;
      return {
        ...(marksRaisedAt !== undefined ? { marksRaisedAt } : {}),
        ...(raisedSinceBackupAt !== undefined ? { raisedSinceBackupAt } : {}),
        ...(raisedSinceBackupFrom !== undefined ? { raisedSinceBackupFrom } : {}),
      };
    });
  }

  /**
   * The epoch marks another folder's `keys.db` at `path` kept (README "Restoring a whole data folder", step 7: the
   * folder moved aside), read on a read-only connection: that folder is evidence, and `open` would write its schema.
   * Undefined when the file has no marks table (a version before review 149 wrote it last). Refused, naming the file,
   * before anything is written anywhere: a file a newer version wrote (it may keep them otherwise), and one that is no
   * key registry of Credence (no `se_key_handles`, or a mark no version writes), whose marks would be anything.
   */
  static readEpochMarks(path: string): NodeEpoch[] | undefined {
    const notARegistry = (found: string) =>
      validationError([{ path, rule: 'key_registry', message: `not the key registry (${KEY_REGISTRY_DB_FILE}) of a Credence data folder: ${found} [key_registry]` }], 'key registry');
    return readOnlyDatabase(path, (db) => {
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > SCHEMA_VERSION) throw newerFileVersion(path, 'key registry', version, SCHEMA_VERSION, 'carry its marks over with that version');
      const tables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name));
      if (version < 1 || !tables.has(TABLE)) throw notARegistry(`no ${TABLE} table${version < 1 ? ' and no schema version' : ''}`);
      if (!tables.has(EPOCH_MARKS)) return undefined;
      let rows: { node_id: unknown; epoch: unknown }[];
      try {
        rows = db.prepare(`SELECT node_id, epoch FROM ${EPOCH_MARKS} ORDER BY node_id`).all() as typeof rows;
      } catch (error) {
        // Only a table of another shape: a corrupt file is readOnlyDatabase's to refuse as damaged.
        if (!(error instanceof Error) || !error.message.startsWith('no such column')) throw error;
        throw notARegistry(`its ${EPOCH_MARKS} table has no node_id and epoch columns`);
      }
      return rows.map(({ node_id: nodeId, epoch }) => {
        if (typeof nodeId !== 'string' || nodeId === '' || typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) {
          throw notARegistry(`a row of ${EPOCH_MARKS} is no node id with an epoch (a whole number from 0)`);
        }
        return { nodeId, epoch };
      });
    });
  }
}

/** Whether `epoch_marks_changes` has the column (a table review 404's version made lacks the digest's). */
const hasColumn = (db: Database.Database, column: string): boolean =>
  (db.pragma(`table_info(${MARKS_CHANGES})`) as { name: string }[]).some((c) => c.name === column);

/**
 * The migration from the registry's old home, the `se_key_handles` table of `readmodels.db`: bindings are copied
 * (a binding already here wins: it may carry a later destruction) and committed before the old table is dropped,
 * so a crash in between only repeats the copy at the next open.
 */
const moveLegacyBindings = (legacy: Database.Database, db: Database.Database): void => {
  const exists = legacy.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(TABLE);
  if (exists === undefined) return;
  const rows = legacy.prepare(`SELECT stream, handle, purpose, destroyed_at FROM ${TABLE}`).all() as Row[];
  const insert = db.prepare(`INSERT OR IGNORE INTO ${TABLE} (stream, handle, purpose, pending, destroyed_at) VALUES (?, ?, ?, 0, ?)`);
  db.transaction(() => {
    for (const r of rows) insert.run(r.stream, r.handle, r.purpose, r.destroyed_at);
  }).immediate();
  legacy.exec(`DROP TABLE ${TABLE}`);
};
