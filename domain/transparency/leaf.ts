import canonicalizeModule from 'canonicalize';
import { jsonLimitIssue } from '../json-limits.ts';
import { hashLeaf } from './hashing.ts';
import { utf8 } from './bytes.ts';

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

// The package is CommonJS (`module.exports = serialize`) but its typings declare an ES default export; under
// NodeNext the default import is the function at run time, so it is retyped here rather than called as `.default`.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

export const eventLeafBytes = (event: LoggedEvent): Uint8Array => {
  const envelope = eventLeafEnvelope(event);
  // canonicalize recurses once per level: refuse what would overflow the stack with an error that says so.
  const tooDeep = jsonLimitIssue(envelope);
  if (tooDeep !== undefined) throw new RangeError(`event cannot be canonicalised: ${tooDeep.path} ${tooDeep.message}`);
  const text = canonicalize(envelope);
  if (text === undefined) throw new Error('event: cannot be canonicalised');
  return utf8(text);
};

/** RFC 9162 leaf hash of the event's canonical envelope. */
export const eventLeafHash = (event: LoggedEvent): Uint8Array => hashLeaf(eventLeafBytes(event));
