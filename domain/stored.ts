import { z } from 'zod';
import { compiledSchema } from './compiled-schema.ts';
import type { FieldIssue } from './errors.ts';
import { ENTITY_ID_FIELD, EVENT_DATA, EVENT_KIND, isEventType, type DomainEvent, type EventType } from './events/index.ts';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS } from './json-limits.ts';
import { EventMetadata } from './metadata.ts';
import { parseStreamId } from './streams.ts';
import { currentVersionOf, upcast } from './upcasters.ts';

/** A stored record as the domain reads it; the store port's RecordedEvent satisfies it. */
export interface StoredRecord {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: bigint;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
}

export interface DecodedEvent {
  readonly record: StoredRecord;
  readonly event: DomainEvent;
  readonly metadata: EventMetadata;
  /** Epoch ms of metadata.occurredAt: the instant the machine sees. */
  readonly at: number;
}

/**
 * Why an event does not decode, in two kinds. `newer`: a newer build wrote it (a type this build does not know, or a
 * schema version above the one it knows, in a stream of an entity that type may belong to and with the metadata every
 * Credence event carries): an upgrade reads it, so a reader that must not lose it stops before it. Otherwise it is
 * none any build reads as a fact (`misplaced`: an event stored outside its entity's stream, `<kind>-<id>` of the
 * entity it is addressed to, or in another kind's stream whatever its version; data or metadata refused at a version
 * this build knows; or another application's event, as a cluster shared with other applications holds them).
 */
export type DecodeResult = { ok: true; value: DecodedEvent } | { ok: false; reason: string; misplaced?: true; newer?: true };

/**
 * The schemas stored events are read with, compiled ahead of time by zod (`z.compile`): the same schemas, whose
 * generated fast path checks every rule of a valid input without zod's per-field dispatch and payload objects;
 * an input it does not accept is parsed again by zod's runtime parser, so a refusal names the same fields and
 * rules as before; a schema zod could not compile would be handed back as it is and keep the runtime parser. On
 * replay this turned 3.8 µs of zod per event into 1 µs (issue 15, item 4);
 * `test/stored-compiled-schemas.test.ts` compares both parsers on valid and broken data and metadata. Each is
 * compiled when the first event needing it is read (compiling them all cost every process 50 ms at start).
 */
let storedMetadata: typeof EventMetadata | undefined;
const storedData: Partial<Record<EventType, z.ZodType>> = {};

export const storedMetadataSchema = (): typeof EventMetadata => (storedMetadata ??= compiledSchema(EventMetadata));
export const storedDataSchema = (type: EventType): z.ZodType => (storedData[type] ??= compiledSchema(EVENT_DATA[type] as z.ZodType));

const describe = (issues: readonly { path: PropertyKey[]; message: string }[]): string =>
  issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');

/** Where a stored event's data or metadata breaks the message limits, as a reason; undefined when it keeps them. */
const beyondLimits = (record: StoredRecord): string | undefined =>
  limitReason('data', jsonLimitIssue(record.data, MESSAGE_JSON_LIMITS)) ??
  limitReason('metadata', jsonLimitIssue(record.metadata, MESSAGE_JSON_LIMITS));

const limitReason = (part: string, issue: FieldIssue | undefined): string | undefined =>
  issue === undefined ? undefined : `${issue.path ? `${part}.${issue.path}` : part}: ${issue.message}`;

// The events of one command share their instant, and replay reads them one after the other: remembering the last
// instant parsed spares a Date.parse per event (a pure cache of one entry, correct for any input).
let lastInstant = '';
let lastInstantMs = Number.NaN;
const epochMsOf = (instant: string): number => {
  if (instant !== lastInstant) {
    lastInstantMs = Date.parse(instant);
    lastInstant = instant;
  }
  return lastInstantMs;
};

/**
 * Whether stored metadata has the shape every Credence event's has (EventMetadata's fields, of their types), so that
 * a record this build cannot read may be one a newer Credence wrote: another application's event on a shared
 * EventStoreDB cluster (docs/eventstoredb.md) has its own metadata, or none (review 86).
 */
const credenceShaped = (metadata: unknown): boolean => {
  if (typeof metadata !== 'object' || metadata === null) return false;
  const m = metadata as Record<string, unknown>;
  const { schemaVersion, actor } = m;
  return (
    typeof schemaVersion === 'number' &&
    Number.isSafeInteger(schemaVersion) &&
    schemaVersion > 0 &&
    typeof actor === 'object' &&
    actor !== null &&
    typeof (actor as Record<string, unknown>)['id'] === 'string' &&
    ['commandId', 'commandType', 'correlationId', 'causationId', 'occurredAt'].every((field) => typeof m[field] === 'string')
  );
};

/**
 * A type this build does not know: newer only in an entity's stream (`<kind>-<id>` of a kind it knows: a newer build
 * writes to no other) and with Credence's metadata; otherwise foreign (another application's, whose stream may be
 * named `subscription-42` too), which no Credence reads, and which a reader stopping at would never pass (review 86).
 */
const ofUnknownType = (record: StoredRecord): DecodeResult => {
  const reason = `unknown event type ${record.type}`;
  return parseStreamId(record.streamId) !== undefined && credenceShaped(record.metadata) ? { ok: false, reason, newer: true } : { ok: false, reason };
};

/**
 * A known type at a schema version above this build's. Where it is stored is judged first, by kind (its data, of a
 * version this build cannot parse, cannot name its entity): in another kind's stream it is misplaced whatever its
 * version, as it would be at this one (review 86: a NodeRegistered v99 in `credential-x` ended every stream). In a
 * stream of no entity, or without Credence's metadata, it is foreign, as replay counts it.
 */
const ofNewerVersion = (record: StoredRecord, type: EventType, version: number, known: number): DecodeResult => {
  const kind = EVENT_KIND[type];
  const stream = parseStreamId(record.streamId);
  if (stream !== undefined && stream.kind !== kind) {
    return { ok: false, reason: `${type} belongs in a ${kind} stream but is stored in ${record.streamId}`, misplaced: true };
  }
  const reason = `${type} v${version} is newer than this build knows (v${known})`;
  return stream !== undefined && credenceShaped(record.metadata) ? { ok: false, reason, newer: true } : { ok: false, reason };
};

/**
 * Parses a stored event on read: metadata by schema, data lifted to the current schema version by the
 * upcasters and then parsed. Never throws: an unreadable event is a finding for replay, not a crash. Data or
 * metadata beyond the message limits (SER-001) is unreadable too, checked before upcasters or schemas walk it.
 */
export const decodeStored = (record: StoredRecord): DecodeResult => {
  if (!isEventType(record.type)) return ofUnknownType(record);
  const tooBig = beyondLimits(record);
  if (tooBig !== undefined) return { ok: false, reason: tooBig };
  // Read before the metadata schema: a newer build's metadata may be refused by this one's, and it is still newer.
  const version = typeof record.metadata === 'object' && record.metadata !== null ? record.metadata['schemaVersion'] : undefined;
  const known = currentVersionOf(record.type);
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > known) return ofNewerVersion(record, record.type, version, known);
  const metadata = storedMetadataSchema().safeParse(record.metadata);
  if (!metadata.success) return { ok: false, reason: `metadata: ${describe(metadata.error.issues)}` };
  let stored = record.data;
  // The upcasters run only for an event stored at an older schema version.
  if (metadata.data.schemaVersion !== known) {
    const lifted = upcast(record.type, metadata.data.schemaVersion, record.data);
    if (!lifted.ok) return { ok: false, reason: lifted.reason };
    stored = lifted.data;
  }
  const data = storedDataSchema(record.type).safeParse(stored);
  if (!data.success) return { ok: false, reason: `data: ${describe(data.error.issues)}` };
  // Only the entity's own stream speaks for it: an event elsewhere (another entity's stream, a stream of no entity)
  // is no fact of the lifecycle, so no read model, reaction or subscriber acts on it, and replay flags it.
  const kind = EVENT_KIND[record.type];
  const addressee = (data.data as Record<string, string>)[ENTITY_ID_FIELD[kind]]!;
  const stream = record.streamId;
  // `<kind>-<id>`, compared in place: this runs for every event every reader decodes.
  if (stream.length !== kind.length + 1 + addressee.length || stream.charCodeAt(kind.length) !== 45 || !stream.startsWith(kind) || !stream.endsWith(addressee)) {
    return { ok: false, reason: `${record.type} is addressed to ${addressee} but stored in ${record.streamId}`, misplaced: true };
  }
  return {
    ok: true,
    value: {
      record,
      event: { type: record.type, data: data.data } as DomainEvent,
      metadata: metadata.data,
      at: epochMsOf(metadata.data.occurredAt),
    },
  };
};
