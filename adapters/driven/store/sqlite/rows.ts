import { z } from 'zod';
import { validationError } from '../../../../domain/errors.ts';
import { duplicateNameIssue } from '../../../../domain/json-duplicate-names.ts';
import type { JsonObject, RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { isPlainObject } from '../append-arguments.ts';

/** Columns every read selects, in the shape `storedRow` parses and in the order `recordedEventOfRaw` reads. */
export const EVENT_COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata';
const COLUMN_NAMES = ['position', 'stream_id', 'revision', 'event_id', 'type', 'data', 'metadata'] as const;

const jsonObjectText = z.string().transform((text, ctx): JsonObject => {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not JSON' });
    return z.NEVER;
  }
  if (!isPlainObject(value)) {
    ctx.addIssue({ code: 'custom', message: 'is not a JSON object' });
    return z.NEVER;
  }
  return value;
});

// A stored row is a boundary like any other: a file edited or damaged outside the store must fail loudly here.
const storedRow = z.object({
  position: z.bigint().positive(),
  stream_id: z.string().min(1),
  revision: z.bigint().nonnegative(),
  event_id: z.string().min(1),
  type: z.string().min(1),
  data: jsonObjectText,
  metadata: jsonObjectText,
});

const recordedOf = (r: z.infer<typeof storedRow>): RecordedEvent => ({
  id: r.event_id,
  streamId: r.stream_id,
  revision: r.revision,
  position: r.position,
  type: r.type,
  data: r.data,
  metadata: r.metadata,
});

/**
 * A member named twice in one object of a data or metadata column, said as the audit's problem; undefined when none is.
 * JSON.parse keeps the last value and SQLite's json_extract the first (the SER-010 index, schema.ts), so such a row
 * means one thing to the events and another to the index, while its parsed event, and so its leaf hash, is unchanged.
 * The store never writes one (JSON.stringify cannot): it was edited (review 321).
 */
const namedTwice = (row: unknown): string | undefined => {
  if (!isPlainObject(row)) return undefined;
  for (const column of ['data', 'metadata'] as const) {
    const text = row[column];
    const issue = typeof text === 'string' ? duplicateNameIssue(text) : undefined;
    if (issue !== undefined) {
      return `${column}.${issue.path} names a member its object names already (RFC 7493 2.3), which the store never writes: JSON.parse reads the last value, SQLite the first`;
    }
  }
  return undefined;
};

/**
 * Parses one `events` row, each member named once in its data and metadata (the tamper audit's read: the store's own
 * reads do not scan for that, issue 15); the failure names the column and rule (the audit reports it by position).
 */
export const parseStoredRow = (row: unknown): { ok: true; event: RecordedEvent } | { ok: false; problem: string } => {
  const parsed = storedRow.safeParse(row);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'unreadable'}`.trim() };
  }
  const twice = namedTwice(row);
  if (twice !== undefined) return { ok: false, problem: twice };
  return { ok: true, event: recordedOf(parsed.data) };
};

export function toRecordedEvent(row: unknown): RecordedEvent {
  const parsed = storedRow.safeParse(row);
  if (!parsed.success) {
    const position = isPlainObject(row) ? String(row['position']) : '?';
    throw validationError(
      parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), rule: issue.code, message: issue.message })),
      `stored event at position ${position}`,
    );
  }
  return recordedOf(parsed.data);
}

/** The text of a data or metadata column as a JSON object; undefined when it is not one. */
const jsonObjectOf = (text: unknown): JsonObject | undefined => {
  if (typeof text !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isPlainObject(value) ? value : undefined;
};

/**
 * A row read in raw mode (an array in EVENT_COLUMNS order) as a RecordedEvent, for the long reads of $all (replay,
 * projections, subscriptions). The checks are the rules of `storedRow`, written out so that a well-formed row costs
 * its JSON.parse and one object, not a zod pipeline and two throw-away objects (issue 15, item 4). A row that breaks
 * any rule goes through `storedRow`, whose error names the column and rule, exactly as `toRecordedEvent` reports
 * it. The data and metadata are parsed by their zod schemas afterwards, when the domain decodes the event
 * (domain/stored.ts).
 */
export function recordedEventOfRaw(row: readonly unknown[]): RecordedEvent {
  const position = row[0];
  const streamId = row[1];
  const revision = row[2];
  const id = row[3];
  const type = row[4];
  if (
    typeof position === 'bigint' && position > 0n &&
    typeof streamId === 'string' && streamId.length > 0 &&
    typeof revision === 'bigint' && revision >= 0n &&
    typeof id === 'string' && id.length > 0 &&
    typeof type === 'string' && type.length > 0
  ) {
    const data = jsonObjectOf(row[5]);
    const metadata = data === undefined ? undefined : jsonObjectOf(row[6]);
    if (data !== undefined && metadata !== undefined) return { id, streamId, revision, position, type, data, metadata };
  }
  return toRecordedEvent(Object.fromEntries(COLUMN_NAMES.map((name, i) => [name, row[i]])));
}
