/**
 * What one event looks like on the stream: `id` is its global store position and its tag (./event-id.ts: what
 * `Last-Event-ID` resumes after, checked against the event there), `event` its type, `data` its JSON with positions and revisions as decimal strings (issue 12: bigints
 * go over JSON as strings).
 */
import type { LifecycleEvent } from '../../runtime/index.ts';
import type { PublicEvent } from '../../../projections/pseudonyms/index.ts';
import { eventIdOf, type EventTagger } from './event-id.ts';
import type { SseMessage } from './frame.ts';

const json = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** Canonical identifiers, for operators and auditors. */
export const canonicalMessage = (e: LifecycleEvent, tagOf: EventTagger): SseMessage => ({
  id: eventIdOf(e.record, tagOf),
  event: e.event.type,
  data: json({
    position: e.record.position,
    eventId: e.record.id,
    streamId: e.record.streamId,
    revision: e.record.revision,
    type: e.event.type,
    data: e.event.data,
    metadata: e.metadata,
  }),
});

/**
 * The pseudonymised form (seed 004; SER-011, SER-018, SER-025), for integrators; `id` its stream id, which the event
 * (without an event id) cannot make (./event-id.ts `notingStore`).
 */
export const publicMessage = (e: PublicEvent, id: string): SseMessage => ({
  id,
  event: e.type,
  data: json({
    position: e.position,
    type: e.type,
    occurredAt: e.occurredAt,
    actorRole: e.actorRole,
    subject: e.subject,
    data: e.data,
  }),
});
