import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { parseStoredRow } from './rows.ts';

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

export function* readEventsDb(file: string): Generator<StoredEventRead> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
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
