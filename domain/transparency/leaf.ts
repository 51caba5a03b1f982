import { canonicalJson } from '../crypto/canonical-json.ts';
import { hashLeaf } from './hashing.ts';
import { utf8 } from '../crypto/bytes.ts';

export type LogJsonValue = null | boolean | number | string | LogJsonValue[] | { [key: string]: LogJsonValue };
export type LogJsonObject = { [key: string]: LogJsonValue };

/** A stored event as the log sees it. The store port's RecordedEvent satisfies it; the domain does not import adapters. */
export interface LoggedEvent {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly position: bigint;
  readonly type: string;
  readonly data: LogJsonObject;
  readonly metadata: LogJsonObject;
}

/**
 * The canonical envelope of a stored event: the leaf bytes of the transparency log (SER-016 non-repudiation,
 * SER-003 integrity). RFC 8785 canonical JSON of every field an auditor must be able to trust: the global
 * position and stream revision (so moving an event changes its leaf), the event id, type, data and metadata
 * (which carries the actor's request signature). bigints become decimal strings: JSON numbers lose precision
 * past 2^53 and EventStoreDB commit positions go beyond it.
 */
const eventLeafEnvelope = (event: LoggedEvent) => ({
  position: event.position.toString(10),
  streamId: event.streamId,
  revision: event.revision.toString(10),
  id: event.id,
  type: event.type,
  data: event.data,
  metadata: event.metadata,
});

/** Iterative RFC 8785: every stored event has a leaf, however deeply its data nests (the log logs everything). */
export const eventLeafBytes = (event: LoggedEvent): Uint8Array => utf8(canonicalJson(eventLeafEnvelope(event)));

/** RFC 9162 leaf hash of the event's canonical envelope. */
export const eventLeafHash = (event: LoggedEvent): Uint8Array => hashLeaf(eventLeafBytes(event));
