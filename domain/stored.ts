import { EVENT_DATA, isEventType, type DomainEvent } from './events/index.ts';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS } from './json-limits.ts';
import { EventMetadata } from './metadata.ts';
import { upcast } from './upcasters.ts';

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

export type DecodeResult = { ok: true; value: DecodedEvent } | { ok: false; reason: string };

const describe = (issues: readonly { path: PropertyKey[]; message: string }[]): string =>
  issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');

/** Where a stored event's data or metadata breaks the message limits, as a reason; undefined when it keeps them. */
const beyondLimits = (record: StoredRecord): string | undefined => {
  for (const part of ['data', 'metadata'] as const) {
    const issue = jsonLimitIssue(record[part], MESSAGE_JSON_LIMITS);
    if (issue !== undefined) return `${issue.path ? `${part}.${issue.path}` : part}: ${issue.message}`;
  }
  return undefined;
};

/**
 * Parses a stored event on read: metadata by schema, data lifted to the current schema version by the
 * upcasters and then parsed. Never throws: an unreadable event is a finding for replay, not a crash. Data or
 * metadata beyond the message limits (SER-001) is unreadable too, checked before upcasters or schemas walk it.
 */
export const decodeStored = (record: StoredRecord): DecodeResult => {
  if (!isEventType(record.type)) return { ok: false, reason: `unknown event type ${record.type}` };
  const tooBig = beyondLimits(record);
  if (tooBig !== undefined) return { ok: false, reason: tooBig };
  const metadata = EventMetadata.safeParse(record.metadata);
  if (!metadata.success) return { ok: false, reason: `metadata: ${describe(metadata.error.issues)}` };
  const lifted = upcast(record.type, metadata.data.schemaVersion, record.data);
  if (!lifted.ok) return { ok: false, reason: lifted.reason };
  const data = EVENT_DATA[record.type].safeParse(lifted.data);
  if (!data.success) return { ok: false, reason: `data: ${describe(data.error.issues)}` };
  return {
    ok: true,
    value: {
      record,
      event: { type: record.type, data: data.data } as DomainEvent,
      metadata: metadata.data,
      at: Date.parse(metadata.data.occurredAt),
    },
  };
};
