import { z } from 'zod';

/**
 * The JSON of a stream's `data:` lines (messages.ts, frame.ts) as OpenAPI components: OpenAPI 3.1 cannot give the
 * items of a text/event-stream a schema (3.2's `itemSchema` can), so GET /v1/events names them in an extension.
 */

const Decimal = z.string().regex(/^(0|[1-9][0-9]*)$/);
const Json = z.record(z.string(), z.unknown());

/**
 * Not the frame's id since review 185: a client resuming with a bare position is resumed unchecked, and after a restore
 * from an older backup skips events without a word, where the id's tag has the server refuse it (review 289).
 */
const POSITION = "global store position; the frame's `id:` is `<position>~<tag>`: resume with the id (Last-Event-ID), not the position";

export const OperatorFrame = z
  .object({
    position: Decimal.describe(POSITION),
    eventId: z.string(),
    streamId: z.string(),
    revision: Decimal,
    type: z.string().describe("the event type, also the frame's `event:`"),
    data: Json,
    metadata: Json,
  })
  .meta({ id: 'OperatorFrame', description: 'An event as operators and auditors receive it: canonical identifiers' });

export const IntegratorFrame = z
  .object({
    position: Decimal.describe(POSITION),
    type: z.string().describe("the event type, also the frame's `event:`"),
    occurredAt: z.string().describe('the start of the UTC day it occurred on'),
    actorRole: z.string(),
    subject: z.string().describe('the pseudonymised entity'),
    data: Json,
  })
  .meta({ id: 'IntegratorFrame', description: 'An event as integrators receive it: every identifier pseudonymised (SER-025)' });

export const DroppedFrame = z
  .object({
    reason: z.enum(['slow', 'error', 'unauthorised', 'newer_event']),
    retryMs: z.number().int().min(0).optional().describe('absent for `unauthorised`: reconnect with a new token'),
    position: Decimal.optional().describe(
      '`newer_event` only: the event a newer version of Credence wrote, which this server cannot read; the stream ended before it, and ends there again until the server is upgraded',
    ),
    message: z.string().optional().describe('`newer_event` only: what happened and what to do, for a person'),
  })
  .meta({ id: 'DroppedFrame', description: '`event: dropped`, without `id:`: the last frame of a stream the server ends' });

const ref = (schema: z.ZodType): { readonly $ref: string } => ({ $ref: `#/components/schemas/${String(z.globalRegistry.get(schema)?.id)}` });

/** The OpenAPI extension of the stream's schema naming each frame's component. */
export const FRAMES_EXTENSION = {
  'x-credence-frames': { operator: ref(OperatorFrame), integrator: ref(IntegratorFrame), dropped: ref(DroppedFrame) },
};
