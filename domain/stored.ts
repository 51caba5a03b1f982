import { EVENT_DATA, isEventType, type DomainEvent } from './events/index.ts';
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

/**
 * Parses a stored event on read: metadata by schema, data lifted to the current schema version by the
 * upcasters and then parsed. Never throws: an unreadable event is a finding for replay, not a crash.
 */
export const decodeStored = (record: StoredRecord): DecodeResult => {
  if (!isEventType(record.type)) return { ok: false, reason: `unknown event type ${record.type}` };
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
