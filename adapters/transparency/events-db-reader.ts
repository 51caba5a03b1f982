import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { JsonObject, RecordedEvent } from '../store/port.ts';

/**
 * Reads the embedded store's `events` table directly and read-only, for the tamper audit (issue 4 item 7): the
 * audit must see every row as it is on disk, including rows the store itself would refuse to parse, and say at
 * which position they sit instead of stopping at the first one.
 */

export type StoredEventRead =
  | { readonly ok: true; readonly event: RecordedEvent }
  | { readonly ok: false; readonly position: bigint; readonly problem: string };

const jsonObjectText = z.string().transform((text, ctx): JsonObject => {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'is not a JSON object' });
  return z.NEVER;
});

const EventRow = z.object({
  position: z.bigint(),
  stream_id: z.string().min(1),
  revision: z.bigint().nonnegative(),
  event_id: z.string().min(1),
  type: z.string().min(1),
  data: jsonObjectText,
  metadata: jsonObjectText,
});

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
        const parsed = EventRow.safeParse(row);
        const position = typeof row.position === 'bigint' ? row.position : -1n;
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          yield { ok: false, position, problem: `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'unreadable'}`.trim() };
          continue;
        }
        const r = parsed.data;
        yield {
          ok: true,
          event: { position: r.position, streamId: r.stream_id, revision: r.revision, id: r.event_id, type: r.type, data: r.data, metadata: r.metadata },
        };
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.position as bigint;
    }
  } finally {
    db.close();
  }
}

export const readEventsDbInDir = (dataDir: string): Generator<StoredEventRead> => readEventsDb(join(dataDir, EVENTS_DB_FILE));
