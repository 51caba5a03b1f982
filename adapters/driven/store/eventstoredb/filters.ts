/**
 * Our `AllFilter` as an EventStoreDB server-side filter. The server filters on ONE attribute per request (stream
 * name or event type), so:
 * - stream prefixes only: a stream-name prefix filter;
 * - event types only: an event-type regex `^(?:A|B)$` of the escaped types (exact match, not prefix), and the types
 *   checked here again: .NET's `$` also matches before a final "\n", so the server passes a type "A\n" (review 421);
 * - both: the stream prefixes go to the server and the event types are checked here on what comes back;
 * - none: a stream-name regex that excludes the $-prefixed (system) streams. Not the client's "exclude system events"
 *   type filter: a $-typed event written into one of our streams by another client is ours to read (codec.ts).
 * System events (isSystemEvent) are dropped in every case.
 */
import type { AllFilter } from '../../../../domain/ports/event-store.ts';
import type { ServerFilter, WireEvent } from './driver.ts';
import { isSystemEvent } from './codec.ts';

export interface CompiledFilter {
  readonly server: ServerFilter;
  /** Applied to what the server returns; false for system events and for events of a type not asked for. */
  readonly keep: (event: WireEvent) => boolean;
}

const EXCLUDE_SYSTEM_STREAMS = '^[^$]';

export function compileFilter(filter: AllFilter | undefined, argument: string): CompiledFilter {
  const prefixes = list(filter?.streamPrefixes, `${argument}.streamPrefixes`);
  const types = list(filter?.eventTypes, `${argument}.eventTypes`);
  const typeSet = new Set(types);
  const server: ServerFilter =
    prefixes !== undefined
      ? { on: 'stream', prefixes }
      : types !== undefined
        ? { on: 'type', regex: exactTypes(types) }
        : { on: 'stream', regex: EXCLUDE_SYSTEM_STREAMS };
  // Whenever types are given, not only when the server could not apply them: its regex is not exact (see above).
  return {
    server,
    keep: (event) => !isSystemEvent(event) && (types === undefined || typeSet.has(event.type)),
  };
}

/** Characters that are syntax in both .NET (the server) and JavaScript regular expressions. */
const escape = (literal: string): string => literal.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

const exactTypes = (types: readonly string[]): string => `^(?:${types.map(escape).join('|')})$`;

function list(values: readonly string[] | undefined, argument: string): readonly string[] | undefined {
  if (values === undefined) return undefined;
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string')) {
    // Same contract as the SQLite store: an empty list is ambiguous, the caller omits the field to match everything.
    throw new Error(`${argument}: must be a non-empty array of strings, or omitted`);
  }
  return [...new Set(values)];
}
