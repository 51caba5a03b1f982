import { z } from 'zod';
import { UnexpectedResponse } from '../../adapters/client/http.ts';
import type { SseEvent } from '../../adapters/client/sse.ts';
import { printable, printableJson } from '../printable.ts';

/**
 * What `credence events` prints of one event of GET /v1/events: the canonical form (operators, auditors) names its
 * stream and carries the instant in its metadata; the pseudonymised one (integrators) names a subject and its day.
 */
const Shown = z.looseObject({
  type: z.string().max(256).optional(),
  streamId: z.string().max(1024).optional(),
  subject: z.string().max(1024).optional(),
  occurredAt: z.string().max(64).optional(),
  metadata: z.looseObject({ occurredAt: z.string().max(64).optional() }).optional(),
});

/** The event's data as a JSON object; anything else is not what the server sends (exit 1, naming the position). */
const objectOf = (event: SseEvent): { readonly text: string; readonly value: Record<string, unknown> } => {
  let value: unknown;
  try {
    value = JSON.parse(event.data);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UnexpectedResponse('GET /v1/events', `the event at ${event.id === '' ? 'an unnamed position' : event.id} carries no JSON object`);
  }
  return { text: event.data, value: value as Record<string, unknown> };
};

/**
 * One NDJSON line: the data as the server sent it, its members unchanged, with the event's id as the stream sent it in
 * a first member `id` (POSITION~TAG, what --from takes back; none when the stream gave the event no id), so that a
 * script resumes with an id its server checks (review 206: the data names the position alone). The data is rewritten
 * only when a line break in it (legal between JSON tokens, never sent by Credence) would split the line, or when it
 * names an `id` of its own (no frame of Credence does), which the stream's replaces so that each name comes once.
 * Terminal-safe by printableJson: valid JSON holds no raw C0 control, and DEL or C1 in a string is escaped to the same
 * character.
 */
export const jsonLine = (event: SseEvent): string => {
  const { text, value } = objectOf(event);
  if (event.id === '') return printableJson(/[\r\n]/.test(text) ? JSON.stringify(value) : text);
  const id = JSON.stringify(event.id);
  if (/[\r\n]/.test(text) || Object.hasOwn(value, 'id')) {
    const { id: _replaced, ...members } = value;
    return printableJson(JSON.stringify({ id: event.id, ...members }));
  }
  // The object's text after its `{`, which JSON.parse read as an object: only white space comes before it.
  const rest = text.trimStart().slice(1);
  return printableJson(Object.keys(value).length === 0 ? `{"id":${id}}` : `{"id":${id},${rest}`);
};

/** `@42~1a2b3c4d 2026-12-03T14:43:37.000Z NodeRevoked node-meter-1`: id, time, type, then stream or subject. */
export const humanLine = (event: SseEvent): string => {
  const shown = Shown.safeParse(objectOf(event).value);
  const e = shown.success ? shown.data : {};
  const at = e.metadata?.occurredAt ?? e.occurredAt ?? '?';
  const type = e.type ?? event.event;
  const where = e.streamId ?? e.subject ?? '?';
  return printable(`@${event.id === '' ? '?' : event.id} ${at} ${type.padEnd(30)} ${where}`);
};
