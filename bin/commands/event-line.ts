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
 * One NDJSON line: the data as the server sent it, unless a line break in it (legal between JSON tokens, never sent
 * by Credence) would split the line. Terminal-safe by printableJson: valid JSON holds no raw C0 control, and DEL or
 * C1 in a string is escaped to the same character.
 */
export const jsonLine = (event: SseEvent): string => {
  const { text, value } = objectOf(event);
  return printableJson(/[\r\n]/.test(text) ? JSON.stringify(value) : text);
};

/** `@42 2026-12-03T14:43:37.000Z NodeRevoked node-meter-1`: position, time, type, then stream or subject. */
export const humanLine = (event: SseEvent): string => {
  const shown = Shown.safeParse(objectOf(event).value);
  const e = shown.success ? shown.data : {};
  const at = e.metadata?.occurredAt ?? e.occurredAt ?? '?';
  const type = e.type ?? event.event;
  const where = e.streamId ?? e.subject ?? '?';
  return printable(`@${event.id === '' ? '?' : event.id} ${at} ${type.padEnd(30)} ${where}`);
};
