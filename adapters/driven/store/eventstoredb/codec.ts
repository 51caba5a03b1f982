/**
 * How Credence events sit in EventStoreDB: JSON data, our metadata as the event's JSON metadata, and the id as the
 * EventStoreDB event id. When an append carries a command id, the metadata also holds a `$credence` entry with the
 * command id and a per-attempt marker; the idempotency check reads it back (see append.ts) and `decode` removes it,
 * so readers see exactly the metadata that was appended.
 */
import { z } from 'zod';
import { protocolError, validationError } from '../../../../domain/errors.ts';
import type { EventToAppend, JsonObject, RecordedEvent } from '../../../../domain/ports/event-store.ts';
import { parseStreamId } from '../../../../domain/streams.ts';
import type { WireEvent, WireEventToAppend } from './driver.ts';

const ENVELOPE_KEY = '$credence';

export interface AppendMarker {
  readonly commandId: string;
  /** Random per attempt: tells our own write apart from an earlier one the server deduplicated against. */
  readonly attempt: string;
}

// Not z.json(): its recursive check overflows the stack on data nested a few thousand levels deep. The values came
// through JSON.parse already; their depth and size are the domain's to judge (decodeStored), as on the embedded store.
// A plain object only: the client hands over non-JSON metadata as a Uint8Array, an object whose indexes would read as
// keys ({"0":8,"1":150,...}).
const isPlainObject = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
const JsonObjectSchema = z.custom<Record<string, unknown>>(isPlainObject, 'must be a JSON object');
const Marker = z.object({ commandId: z.string(), attempt: z.string() });
// EventStoreDB rejects ids that are not UUIDs; any version is fine (ours are derived from command ids).
const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);

const StoredEvent = z.object({
  id: z.string(),
  streamId: z.string(),
  revision: z.bigint().nonnegative(),
  position: z.bigint().nonnegative(),
  type: z.string(),
  isJson: z.literal(true),
  data: JsonObjectSchema,
  metadata: JsonObjectSchema.optional(),
});

/** Where the event sits: what any record of a shared cluster has, JSON or not. */
const Placement = z.object({ id: z.string(), streamId: z.string(), revision: z.bigint().nonnegative(), position: z.bigint().nonnegative(), type: z.string() });

/**
 * The event as sent. Serialised here, before anything reaches the client: a value JSON cannot hold (a bigint, a cycle)
 * throws JSON.stringify's TypeError into the append's promise, as on the embedded store, instead of inside the
 * client's write (an unhandled rejection that also held the stream's queue); and what is stored is what the caller
 * passed, even if it changes the objects afterwards.
 */
export function encode(event: EventToAppend, marker: AppendMarker | undefined, index: number): WireEventToAppend {
  if (!Uuid.safeParse(event.id).success) {
    throw validationError([{ path: `events.${index}.id`, rule: 'uuid', message: 'must be a UUID' }], 'event');
  }
  if (ENVELOPE_KEY in event.metadata) {
    throw new Error(`events[${index}].metadata: the key ${ENVELOPE_KEY} is reserved by the EventStoreDB adapter`);
  }
  const metadata: JsonObject = marker === undefined ? event.metadata : { ...event.metadata, [ENVELOPE_KEY]: { ...marker } };
  return { id: event.id.toLowerCase(), type: event.type, data: asJson(event.data), metadata: asJson(metadata) };
}

const asJson = (value: JsonObject): JsonObject => JSON.parse(JSON.stringify(value)) as JsonObject;

/**
 * System records sit in $-prefixed streams. A $-typed event elsewhere is read like any other: in an entity stream
 * it is the domain's to refuse, as on the embedded store, and every read path sees it, as `readStream` does. The
 * exception is the tombstone the server writes into a hard-deleted stream, which `readStream` does not return either.
 */
export const isSystemEvent = (event: WireEvent): boolean => event.streamId.startsWith('$') || event.type === TOMBSTONE_TYPE;

const TOMBSTONE_TYPE = '$streamDeleted';

/**
 * Parses a stored event at the boundary; a malformed one in an entity stream is a `protocol` CredenceError naming
 * it, as a damaged row of the embedded store is. An event in a stream that is no entity's (another application's, in
 * a cluster shared with it) that is not a Credence event in any way (not JSON, malformed JSON, JSON that is no
 * object, metadata that is no object) is read with empty data and metadata: replay counts it as foreign, instead of
 * every read of $all failing on it.
 */
export function decode(event: WireEvent): RecordedEvent {
  const parsed = StoredEvent.safeParse(event);
  if (!parsed.success) {
    const entity = parseStreamId(event.streamId);
    const foreign = entity === undefined ? Placement.safeParse(event) : undefined;
    if (foreign?.success === true) return { ...foreign.data, data: {}, metadata: {} };
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    // Credence's events carry no mark of their own: in a stream named as an entity's, another application's record
    // and a damaged Credence event look alike, and reading either as foreign would hide damage. Say what to do.
    const whose =
      entity === undefined
        ? ''
        : `; a stream named ${entity.kind}-… belongs to Credence, so this is another application's stream of that name, or a damaged event: ` +
          "it stops Credence's reads of it and of $all: if the stream is another application's, remove it; if it is Credence's, " +
          'restore it from a backup (docs/eventstoredb.md, "A cluster shared with other applications")';
    throw protocolError(`read of event ${event.id} in ${event.streamId}`, `not a Credence event (${issues})${whose}`);
  }
  const { [ENVELOPE_KEY]: _marker, ...metadata } = parsed.data.metadata ?? {};
  return {
    id: parsed.data.id,
    streamId: parsed.data.streamId,
    revision: parsed.data.revision,
    position: parsed.data.position,
    type: parsed.data.type,
    data: parsed.data.data as JsonObject,
    metadata: metadata as JsonObject,
  };
}

/** The append marker stored with an event, if any. */
export function markerOf(event: WireEvent): AppendMarker | undefined {
  if (typeof event.metadata !== 'object' || event.metadata === null) return undefined;
  const parsed = Marker.safeParse((event.metadata as Record<string, unknown>)[ENVELOPE_KEY]);
  return parsed.success ? parsed.data : undefined;
}
