import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { FACT_CLAIM_TYPE } from '../../../../domain/fact-claims.ts';
import { asDamagedDatabase, rememberDatabaseFile } from '../../files/damaged-database.ts';
import { openReadingConnection } from '../../files/reading-connection.ts';
import { EVENT_COLUMNS, parseStoredRow, recordedEventOfRaw } from './rows.ts';

/**
 * Reads the embedded store's `events` table directly and read-only, for the tamper audit (issue 4 item 7): the
 * audit must see every row as it is on disk, including rows the store itself would refuse to parse, and say at
 * which position they sit instead of stopping at the first one. Rows are parsed by the store's own row schema.
 */

export type StoredEventRead =
  | { readonly ok: true; readonly event: RecordedEvent }
  | { readonly ok: false; readonly position: bigint; readonly problem: string };

const PAGE = 1000;
export const EVENTS_DB_FILE = 'events.db';

/**
 * A connection of its own to the events file that writes nothing and leaves the folder as it found it
 * (reading-connection.ts: no -wal or -shm of its own left behind). SQLite finds a damaged file at the first read,
 * whose error names no file: remembered here, the file is located then (damaged-database.ts).
 */
const openReadOnly = (file: string): Database.Database => {
  try {
    const db = openReadingConnection(file);
    rememberDatabaseFile(file);
    return db;
  } catch (error) {
    throw asDamagedDatabase(file, error);
  }
};

export function* readEventsDb(file: string): Generator<StoredEventRead> {
  const db = openReadOnly(file);
  try {
    db.defaultSafeIntegers(true);
    const page = db.prepare(
      'SELECT position, stream_id, revision, event_id, type, data, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?',
    );
    let after = -1n;
    for (;;) {
      const rows = page.all(after, PAGE) as { position: unknown }[];
      for (const row of rows) {
        const parsed = parseStoredRow(row);
        const position = typeof row.position === 'bigint' ? row.position : -1n;
        yield parsed.ok ? parsed : { ok: false, position, problem: parsed.problem };
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.position as bigint;
    }
  } finally {
    db.close();
  }
}

export const readEventsDbInDir = (dataDir: string): Generator<StoredEventRead> => readEventsDb(join(dataDir, EVENTS_DB_FILE));

/** What a range read saw: every row of the range (kept or not), and the position and event id of the last one. */
export interface RangeTally {
  rows: number;
  last: bigint;
  lastId: unknown;
}

const RANGE_PAGE = 5_000;

/**
 * The records of $all in (`after`, `head`] that `keep` accepts, read from the events file on a read-only connection
 * of its own, in one read transaction (a replay worker reads its partition this way: adapters/replay-workers/pool.ts).
 * SQLite asks `keep` for each row inside the query, with the raw stream id, type, and the data text of a fact claim
 * only (null for any other row), so a row of another partition never becomes a JavaScript row nor has its data or
 * metadata copied out of SQLite. A kept row is parsed by the store's own row rules (`recordedEventOfRaw`, which
 * throws a validation error naming the column on a broken row). `tally` describes the whole range, kept or not.
 */
export function* readEventsDbRange(
  file: string,
  range: { readonly after: bigint; readonly head: bigint },
  keep: (streamId: unknown, type: unknown, claimData: unknown) => boolean,
  tally: RangeTally,
): Generator<RecordedEvent> {
  const db = openReadOnly(file);
  try {
    db.defaultSafeIntegers(true);
    // directOnly: only this query may call it, never a view or trigger of a file that came from elsewhere.
    db.function('credence_keep', { deterministic: true, directOnly: true }, (streamId: unknown, type: unknown, claimData: unknown) =>
      keep(streamId, type, claimData) ? 1 : 0,
    );
    db.exec('BEGIN');
    const whole = db.prepare('SELECT COUNT(*) AS rows, MAX(position) AS last FROM events WHERE position > ? AND position <= ?');
    const { rows, last } = whole.get(range.after, range.head) as { rows: bigint; last: bigint | null };
    tally.rows = Number(rows);
    tally.last = last ?? range.after;
    tally.lastId = last === null ? undefined : db.prepare('SELECT event_id FROM events WHERE position = ?').pluck().get(last);
    // The walk of the store's own $all pages (pages.ts): the rowid in position order, bounded by a fixed head.
    const page = db
      .prepare(
        `SELECT ${EVENT_COLUMNS} ` +
          `FROM events NOT INDEXED WHERE position > ? AND position <= ? ` +
          `AND credence_keep(stream_id, type, CASE WHEN type = '${FACT_CLAIM_TYPE}' THEN data END) ORDER BY position LIMIT ?`,
      )
      .raw(true);
    let after = range.after;
    for (;;) {
      const kept = page.all(after, range.head, RANGE_PAGE) as unknown[][];
      for (const row of kept) yield recordedEventOfRaw(row);
      if (kept.length < RANGE_PAGE) return;
      // `position` is the INTEGER PRIMARY KEY (schema.ts): always a bigint under defaultSafeIntegers.
      after = kept[kept.length - 1]![0] as bigint;
    }
  } finally {
    db.close();
  }
}

/**
 * Where a replay worker reads its partition of this store itself (adapters/replay-workers/pool.ts `source`): this
 * module, imported in the worker thread, and the events file. Only for a store with a file: a `:memory:` database is
 * private to its connection.
 */
export const eventsDbRangeSource = (file: string): { readonly module: string; readonly file: string } => ({ module: import.meta.url, file });
export const eventsDbRangeSourceInDir = (dataDir: string): { readonly module: string; readonly file: string } =>
  eventsDbRangeSource(join(dataDir, EVENTS_DB_FILE));
