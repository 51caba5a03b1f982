import { z } from 'zod';
import { validationError } from '../../../../domain/errors.ts';
import type { JsonObject, RecordedEvent } from '../../../../domain/ports/event-store.ts';

/** Columns every read selects, in the shape `storedRow` parses. */
export const EVENT_COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata';

export const isPlainObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

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

/** Parses one `events` row; the failure names the column and rule (the tamper audit reports it by position). */
export const parseStoredRow = (row: unknown): { ok: true; event: RecordedEvent } | { ok: false; problem: string } => {
  const parsed = storedRow.safeParse(row);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `${issue?.path.join('.') ?? ''} ${issue?.message ?? 'unreadable'}`.trim() };
  }
  const r = parsed.data;
  return {
    ok: true,
    event: { id: r.event_id, streamId: r.stream_id, revision: r.revision, position: r.position, type: r.type, data: r.data, metadata: r.metadata },
  };
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
  const r = parsed.data;
  return {
    id: r.event_id,
    streamId: r.stream_id,
    revision: r.revision,
    position: r.position,
    type: r.type,
    data: r.data,
    metadata: r.metadata,
  };
}
