/**
 * What an integrator subscribes to (issue 6 item 3): where to start, and which entity kinds, event types and
 * streams. Parsed by zod at this boundary. Within a field the values are alternatives; across fields all must hold.
 *
 * The filter is split in two: the part the store applies on its side (SQLite in its query, EventStoreDB on the
 * server, so unwanted events never cross the wire) and an exact check on what comes back, which also covers what
 * a store can only approximate (a stream id sent as a prefix also matches `node-10` for `node-1`; EventStoreDB
 * filters on one attribute per request).
 */
import { z } from 'zod';
import { validationError, type FieldIssue } from '../../domain/errors.ts';
import { EVENT_KIND, EVENT_TYPES, EventTypeSchema } from '../../domain/events/index.ts';
import { ENTITY_KINDS, EntityKind, parseStreamId, streamPrefixOf } from '../../domain/streams.ts';
import type { AllFilter, RecordedEvent, SubscriptionStart } from '../../domain/ports/event-store.ts';
import { PUBLIC_DATA } from '../pseudonyms/public-data.ts';

export const StreamStart = z.union([z.literal('start'), z.literal('end'), z.bigint().nonnegative()]);

export const LifecycleFilter = z
  .object({
    /** `start`: the whole log; `end`: what is appended from now on; a position: strictly after it (resume). */
    from: StreamStart.default('start'),
    kinds: z.array(EntityKind).min(1).optional(),
    types: z.array(EventTypeSchema).min(1).optional(),
    streams: z
      .array(z.string().refine((s) => parseStreamId(s) !== undefined, 'must be <kind>-<id> of an entity stream'))
      .min(1)
      .optional(),
  })
  .strict()
  .superRefine((filter, context) => {
    // A combination that can never match is a mistake to report, not a subscription that stays silent forever.
    const kinds = filter.kinds === undefined ? undefined : new Set(filter.kinds);
    filter.types?.forEach((type, index) => {
      if (kinds !== undefined && !kinds.has(EVENT_KIND[type])) {
        context.addIssue({ code: 'custom', path: ['types', index], params: { rule: 'type_not_in_kinds' }, message: `${type} is a ${EVENT_KIND[type]} event, not one of kinds` });
      }
    });
    filter.streams?.forEach((stream, index) => {
      const kind = parseStreamId(stream)?.kind;
      if (kind !== undefined && kinds !== undefined && !kinds.has(kind)) {
        context.addIssue({ code: 'custom', path: ['streams', index], params: { rule: 'stream_not_in_kinds' }, message: `${stream} is a ${kind} stream, not one of kinds` });
      }
    });
  });

export type LifecycleFilter = z.output<typeof LifecycleFilter>;
export type LifecycleFilterInput = z.input<typeof LifecycleFilter>;

export interface CompiledFilter {
  readonly from: SubscriptionStart;
  /** What the store filters on its side. */
  readonly server: AllFilter;
  /** The exact check on each event the store returns. */
  readonly keep: (record: RecordedEvent) => boolean;
}

const startOf = (from: LifecycleFilter['from']): SubscriptionStart =>
  from === 'start' ? { kind: 'start' } : from === 'end' ? { kind: 'end' } : { kind: 'after', position: from };

/** A refinement's own rule (`type_not_in_kinds`, `stream_not_in_kinds`) rather than zod's `custom` (review 120). */
const ruleOf = (issue: z.core.$ZodIssue): string =>
  issue.code === 'custom' && typeof issue.params?.['rule'] === 'string' ? (issue.params['rule'] as string) : issue.code;

export function parseLifecycleFilter(input: unknown): LifecycleFilter {
  const parsed = LifecycleFilter.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || 'filter', rule: ruleOf(issue), message: issue.message })),
    'lifecycle stream filter',
  );
}

/**
 * What the pseudonymised (integrator) stream publishes, read off its allow-list (PUBLIC_DATA: `null` is never
 * published) so that the types are listed once: a kind is published when one of its types is.
 */
const PUBLISHED_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES.filter((type) => PUBLIC_DATA[type] !== null));
const PUBLISHED_KINDS: ReadonlySet<string> = new Set(EVENT_TYPES.filter((type) => PUBLISHED_TYPES.has(type)).map((type) => EVENT_KIND[type]));

/**
 * A filter of the pseudonymised stream: a lifecycle filter with no stream ids (canonical ids are not public; seed
 * 004, SER-011, SER-018, SER-025) and no kind or type it never publishes. `kind=pseudonym` or `type=PseudonymRotated`
 * would be a stream that stays silent forever while it holds one of the few pseudonymised slots (SER-001; found in
 * review): a mistake to report, as LifecycleFilter reports any combination that can never match. Throws a
 * `validation` CredenceError naming each refused value (`kinds.<i>`, `types.<i>`, `streams`) and its rule.
 */
export function parsePublicFilter(input: unknown): LifecycleFilter {
  const filter = parseLifecycleFilter(input);
  const issues: FieldIssue[] = [];
  if (filter.streams !== undefined) {
    issues.push({ path: 'streams', rule: 'not_public', message: 'canonical stream ids are not public: filter by kinds and types' });
  }
  filter.kinds?.forEach((kind, index) => {
    if (!PUBLISHED_KINDS.has(kind)) {
      issues.push({ path: `kinds.${index}`, rule: 'not_published', message: `${kind} events are never published on the pseudonymised stream` });
    }
  });
  filter.types?.forEach((type, index) => {
    if (!PUBLISHED_TYPES.has(type)) {
      issues.push({ path: `types.${index}`, rule: 'not_published', message: `${type} is never published on the pseudonymised stream` });
    }
  });
  if (issues.length > 0) throw validationError(issues, 'public lifecycle stream filter');
  return filter;
}

/**
 * The store-side part: stream ids as prefixes when streams are named; else the event types (each type belongs
 * to one kind, so they imply the kinds, and a type filter is the narrower one on EventStoreDB); else the kinds'
 * prefixes; else every entity kind's prefix, which keeps out streams that are not Credence entities.
 */
export function compileFilter(filter: LifecycleFilter): CompiledFilter {
  const kinds = filter.kinds === undefined ? undefined : new Set<string>(filter.kinds);
  const types = filter.types === undefined ? undefined : new Set<string>(filter.types);
  const streams = filter.streams === undefined ? undefined : new Set(filter.streams);
  const server: AllFilter =
    filter.streams !== undefined
      ? { streamPrefixes: filter.streams, ...(filter.types !== undefined ? { eventTypes: filter.types } : {}) }
      : filter.types !== undefined
        ? { eventTypes: filter.types }
        : { streamPrefixes: (filter.kinds ?? ENTITY_KINDS).map(streamPrefixOf) };
  return {
    from: startOf(filter.from),
    server,
    keep: (record) => {
      const ref = parseStreamId(record.streamId);
      if (ref === undefined) return false;
      return (
        (kinds === undefined || kinds.has(ref.kind)) &&
        (types === undefined || types.has(record.type)) &&
        (streams === undefined || streams.has(record.streamId))
      );
    },
  };
}
