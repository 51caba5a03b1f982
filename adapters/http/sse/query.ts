/**
 * What a client asks of GET /v1/events, parsed by zod at the HTTP boundary (bounded lists, positions as decimal
 * strings) and turned into the integrator stream's `LifecycleFilterInput` (projections/streams/filter.ts).
 */
import { z } from 'zod';
import { isCredenceError, validationError, type FieldIssue } from '../../../domain/errors.ts';
import { EVENT_KIND, EventTypeSchema } from '../../../domain/events/index.ts';
import { ResumePoint, ResumePointString, resumePointOf } from '../../../domain/positions.ts';
import { entityIdRefusal } from '../../../domain/entity-ids.ts';
import { ENTITY_KINDS, EntityKind, parseStreamId } from '../../../domain/streams.ts';
import { parseLifecycleFilter, parsePublicFilter, type LifecycleFilterInput } from '../../../projections/streams/index.ts';
import { REPEATED_RULE } from '../repeated-query-parameters.ts';

const MAX_TYPES = 64;
const MAX_STREAMS = 100;
const MAX_ITEM_CHARS = 256;

/**
 * `?kind=node&kind=credential` and `?kind=node,credential` mean the same; either way the list is bounded, and a list
 * past its bound is refused as `too_big` naming it. The repeated form is held to `max` (what the OpenAPI document
 * states, as maxItems) by a preprocess before the union: the union's own refusal of 65 `type=` was `invalid_union`,
 * "Invalid input", where 65 commas said too_big (review 354), and raising its bound to spare that published a bound 257
 * times the real one (review 358). The comma-separated form is bounded by the `.pipe` after the split.
 */
const listOf = <T extends z.ZodType<unknown, string>>(item: T, max: number, description: string) =>
  z
    .preprocess(
      (value, context) => {
        if (Array.isArray(value) && value.length > max) {
          context.addIssue({ code: 'too_big', origin: 'array', maximum: max, inclusive: true, input: value, message: `Too big: expected array to have <=${max} items` });
        }
        return value;
      },
      z.union([z.string().max(max * (MAX_ITEM_CHARS + 1)), z.array(z.string().max(MAX_ITEM_CHARS)).max(max)]),
    )
    .transform((value) =>
      (typeof value === 'string' ? [value] : value)
        .flatMap((part) => part.split(','))
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(item).min(1).max(max))
    .describe(`${description} At most ${max}.`);

/**
 * A stream id is `<kind>-<id>`, the id by its kind's rule: other text is zod's `invalid_format`, the rule every route
 * names text not of the form wanted by (a bare refinement was `custom`, review 199). An id no entity can have
 * (`node-a b`, `application-x`: an App-ID starts with R or N) was followed in silence for ever, holding one of the
 * few stream places, as a filter of what is never published or told was (reviews 28, 223; review 229). A valid id
 * of an entity not there yet is followed: its stream may begin while the client waits.
 */
const streamIdForm = (value: string, context: z.RefinementCtx): void => {
  const ref = parseStreamId(value);
  const message = ref === undefined ? 'must be <kind>-<id> of an entity stream' : entityIdRefusal(ref.kind, ref.id);
  if (message !== undefined) context.addIssue({ code: 'invalid_format', format: 'stream_id', message });
};

export const EventsQuery = z
  .object({
    kind: listOf(EntityKind, ENTITY_KINDS.length, `Entity kinds, of ${ENTITY_KINDS.join(', ')} (repeat the parameter or separate with commas).`).optional(),
    type: listOf(EventTypeSchema, MAX_TYPES, 'Event types (repeat the parameter or separate with commas).').optional(),
    stream: listOf(
      z.string().max(MAX_ITEM_CHARS).superRefine(streamIdForm),
      MAX_STREAMS,
      "Entity streams `<kind>-<id>` (canonical identifiers only), each id by its kind's rule (an App-ID starts with R or N; a pseudonym is p- and 26 base32 characters).",
    ).optional(),
    identifiers: z
      .enum(['canonical', 'pseudonymous'])
      .optional()
      .describe('canonical (operators and auditors; their default) or pseudonymous (the only choice, and the default, of integrators).'),
    after: ResumePoint.optional().describe(
      'Resume strictly after this event id (a global position, or an id as the stream sent it: `<position>~<tag>`); the Last-Event-ID header wins over it.',
    ),
    from: z.enum(['start', 'end']).optional().describe('Without a position: the whole history (start, the default) or only what comes from now (end).'),
  })
  .strict()
  .superRefine((query, context) => {
    if (query.after !== undefined && query.from !== undefined) {
      context.addIssue({ code: 'custom', path: ['from'], params: { rule: 'after_with_from' }, message: 'give either after (a position) or from, not both' });
    }
  });
export type EventsQuery = z.output<typeof EventsQuery>;

/**
 * A Last-Event-ID sent more than once, refused as a query parameter sent twice is (rule `repeated`), before the id's
 * own form is read. Node joins the lines of a header it does not know with `, ` (`3` and `5` became `3, 5`, refused as
 * no event id: review 263), as a proxy may (RFC 9110 5.3: the same request); an event id holds no comma, so one in the
 * value is more than one id, however they came.
 */
const sentOnce = (value: unknown, context: z.RefinementCtx): unknown => {
  if (typeof value === 'string' && value.includes(',')) {
    context.addIssue({ code: 'custom', params: { rule: REPEATED_RULE }, message: 'sent more than once: send it once, it takes one event id' });
  }
  return value;
};

// The id as a string, parsed in askedResumePoint: a transforming branch under `.describe` is rendered in its output
// form (unrepresentable) and dropped from the document, which then allowed only "" (review 60). A preprocess is
// rendered as what it feeds, the union.
export const EventsHeaders = z.looseObject({
  'last-event-id': z
    .preprocess(sentOnce, z.union([z.literal(''), ResumePointString]))
    .optional()
    .describe(
      'The id of the last event received, as received: the stream resumes strictly after it, with no gap and no duplicate. ' +
        'An id whose tag names another event than this log holds at its position is refused (409 resume_point_not_in_log).',
    ),
});
export type EventsHeaders = z.output<typeof EventsHeaders>;

export type Identifiers = 'canonical' | 'pseudonymous';

/** The query's names for the filter's fields, so that a refusal names what the client sent. */
const QUERY_NAME: Readonly<Record<string, string>> = { kinds: 'kind', types: 'type', streams: 'stream', from: 'after' };

/**
 * The resume point asked for: the `Last-Event-ID` header, else `after`. A browser's EventSource reconnects to the same
 * URL, `after` included, with a newer `Last-Event-ID`: that is why the header wins.
 */
export const askedResumePoint = (query: EventsQuery, headers: EventsHeaders): ResumePoint | undefined => {
  // An empty header is what a client sends before its first event: no position.
  const header = headers['last-event-id'];
  return header !== undefined && header !== '' ? resumePointOf(header) : query.after;
};

/**
 * The stream filter: where to start (askedResumePoint's position, else `from`), kinds, types and streams. Throws a
 * `validation` CredenceError naming the query parameter.
 */
export const lifecycleFilterOf = (query: EventsQuery, headers: EventsHeaders): LifecycleFilterInput => {
  const input: LifecycleFilterInput = {
    from: askedResumePoint(query, headers)?.position ?? query.from ?? 'start',
    ...(query.kind !== undefined ? { kinds: query.kind } : {}),
    ...(query.type !== undefined ? { types: query.type } : {}),
    ...(query.stream !== undefined ? { streams: query.stream } : {}),
  };
  asQuery(() => parseLifecycleFilter(input), 'event stream query');
  return input;
};

/** `parse`, its validation issues named by the query parameter they came from (`kinds.0` is `query.kind.0`). */
const asQuery = (parse: () => unknown, subject: string): void => {
  try {
    parse();
  } catch (error) {
    if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
    throw validationError(
      error.problem.issues.map((issue) => {
        const [head, ...rest] = issue.path.split('.');
        return { ...issue, path: ['query', QUERY_NAME[head ?? ''] ?? head, ...rest].join('.') };
      }),
      subject,
    );
  }
};

/**
 * Integrators see pseudonyms only (seed 004; SER-011, SER-018, SER-025): a stream filter would name canonical ids.
 * Nor may they ask for a kind or type the pseudonymised stream never publishes (parsePublicFilter): such a stream
 * would stay silent while it held one of the few pseudonymised places (SER-001; review 28).
 */
export const checkPublicFilter = (filter: LifecycleFilterInput): void => asQuery(() => parsePublicFilter(filter), 'pseudonymous event stream query');

/**
 * An operator is never told a pseudonym's events on the canonical stream (review 223: only an auditor who recorded a
 * resolution of the pseudonym is), so a `kind`, `type` or `stream` of a pseudonym's is refused (400, rule `not_told`):
 * such a stream would hold a canonical place in silence for ever, as the pseudonymised stream refuses what it never
 * publishes (review 28). An auditor may resolve a pseudonym while following, so an auditor's is served.
 */
export const checkOperatorFilter = (filter: LifecycleFilterInput): void => {
  const issues: FieldIssue[] = [];
  const refuse = (path: string, value: string): void => {
    issues.push({ path, rule: 'not_told', message: `${value}: the events of a pseudonym's stream name its node and are told only to an auditor who recorded a resolution of it` });
  };
  filter.kinds?.forEach((kind, index) => kind === 'pseudonym' && refuse(`query.kind.${index}`, kind));
  filter.types?.forEach((type, index) => EVENT_KIND[type] === 'pseudonym' && refuse(`query.type.${index}`, type));
  filter.streams?.forEach((stream, index) => parseStreamId(stream)?.kind === 'pseudonym' && refuse(`query.stream.${index}`, stream));
  if (issues.length > 0) throw validationError(issues, 'event stream query');
};
