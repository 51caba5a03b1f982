import { z } from 'zod';
import { isCredenceError, validationError, type FieldIssue } from '../../../domain/errors.ts';
import { MAX_POSITION } from '../../../domain/positions.ts';
import { answerQuery, positionOfAfter, COMPLIANCE_QUERIES, COMPLIANCE_QUERY_NAMES, DEFAULT_ROWS, MAX_ROWS, type ComplianceAnswer, type ComplianceQueryName } from '../../../projections/compliance/index.ts';
import { TokenId } from '../auth/access-control.ts';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule, ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';
import { documentedAs } from '../query-values.ts';
import {
  answeredOrBehind, complianceCursorOf, csvColumnsOf, CURSOR_FORM, CURSOR_OF_ANOTHER_QUERY, cursorOfAnotherQuery, cursorOfTwoPositions, cursorTaggersAt, queryDigestOf, rowsTold, TAGGED_CURSOR_PATTERNS, taggedNextAfter, type ComplianceCursor,
} from './compliance-rows.ts';
import { toldOfStreamIds, withoutNodeTrail } from './pseudonym-reads.ts';
import { toCsv, wantsCsv } from './csv.ts';
import { mapInTurns, sendJsonInTurns } from './json-in-turns.ts';
import { refuseResumePointNotInLog } from './resume-point.ts';
import type { ResponseHeaders } from '../response-headers.ts';
import { keyedTagger, type TaggerOnDemand } from '../sse/event-id.ts';
import { DecimalString, EVENTS_BEHIND_HEADER_DOC, toWire } from './wire.ts';
import { complianceLagInto } from './compliance-behind.ts';
import { LAG_COUNT_LIMIT } from '../../runtime/live-lag.ts';
import { DESCRIBED } from './compliance-param-docs.ts';

/** Every parameter any compliance query takes, as the query string carries them; each query's own schema decides. */
const PARAMS = ['reason', 'from', 'to', 'by', 'actor', 'tokenId', 'subscription', 'days', 'now', 'limit', 'after', 'order'] as const;
type Param = (typeof PARAMS)[number];

/** The schema the first query that takes `param` reads it with (the queries taking these read them alike). */
const readerOf = (param: Param): z.ZodType =>
  COMPLIANCE_QUERY_NAMES.map((name) => (COMPLIANCE_QUERIES[name].params as unknown as z.ZodObject).shape[param]).find((s) => s !== undefined)!;

/**
 * `after` is read two ways: a position by the queries in log order, a cursor of its own order by `expiring`,
 * `dangling-associations` and `dangling-credentials`; each as the service hands it out, tagged with the event it ended
 * at (./compliance-rows.ts). Documented once per form: the two dangling queries' cursors read alike (their messages
 * and ids aside), and the document would state the same alternative twice.
 */
const afterReaders = (): z.ZodType => {
  const all = COMPLIANCE_QUERY_NAMES.map((name) => (COMPLIANCE_QUERIES[name].params as unknown as z.ZodObject).shape['after']).filter((s) => s !== undefined);
  const byDocument = new Map<string, z.ZodType>();
  for (const reader of all) {
    const document = JSON.stringify(z.toJSONSchema(reader, { io: 'input', unrepresentable: 'any' }));
    if (!byDocument.has(document)) byDocument.set(document, reader);
  }
  const readers = [...byDocument.values()];
  return z.union([...readers, ...TAGGED_CURSOR_PATTERNS.map((pattern) => z.string().regex(new RegExp(pattern)))] as [z.ZodType, ...z.ZodType[]]);
};

/**
 * Every parameter documented as the queries read it, not as the text this route passes on (found in review: instants
 * and `limit` were any string, then `after`, `days`, `reason`, `order`, `actor` and `subscription` still were): an
 * instant as the date-time or date it must be, `after` as the decimal position it must be, `reason` and `order` as
 * their enums (`order` with its default), `limit` and `days` as the numbers they are read into, and `actor` and
 * `subscription` as the ids they are checked as, each with its bounds. `output` where the reader takes text or a
 * number and checks the number, or checks text only once it is given (`required`, whose input side is anything).
 */
const DOCUMENTED_AS: Readonly<Record<Exclude<Param, 'tokenId'>, 'input' | 'output'>> = {
  reason: 'input',
  from: 'input',
  to: 'input',
  actor: 'output',
  subscription: 'output',
  days: 'output',
  now: 'input',
  limit: 'output',
  after: 'input',
  order: 'input',
  by: 'input',
};

/** What `after`'s pattern cannot say: its bound, which the queries check once its digits are read. */
const AFTER =
  'the `nextAfter` of the page before, as received: for revocations and actions `<position>~<tag>`, the rows after ' +
  'that position; for provisioned `<listedPosition>:<credentialId>@<position>~<tag>` (or a listed position alone, as earlier ' +
  'versions handed out: the rows listed after it); for expiring `<notAfterMs>:<credentialId>@<position>~<tag>`, ' +
  'for dangling-associations `<position>:<associationId>@<position>~<tag>` and for dangling-credentials ' +
  '`<position>:<credentialId>@<position>~<tag>`, the rows after that one in the answer\'s order. ' +
  "The tag names the event the page ended at (at a pseudonym's event under the pseudonym key, and checked against that tag alone): " +
  'a cursor whose event this log does not hold there is of another log (a restore ' +
  'from an older backup, another instance) and is refused (409 `resume_point_not_in_log`, naming `query.after`). Each ends in ' +
  '`.<q8>`, a digest of the query and the parameters that choose its rows and their order (all but `limit`): given to another ' +
  'query, or with other parameters, it is refused (400 `cursor_of_another_query`, naming `query.after`); a cursor without it ' +
  '(as versions before it handed out) is taken with its tag checked, its query not. Without ' +
  `\`~<tag>\` (\`@…\`), as earlier versions handed it out or to go on from a whole answer's last row, a cursor is taken unchecked: a ` +
  `global position from 0 to ${MAX_POSITION} (2^63 - 1), or \`<key>:<id>\``;

/**
 * `tokenId` (review 196) is read here as the service issues token ids (`tok_` and 22 characters), which the catalog,
 * below the adapters, cannot import: any other value is a 400 naming `query.tokenId`, its message never echoing it (a
 * bearer token pasted there by mistake), and the document states that pattern. The catalog then bounds it as events
 * record it. Only an id: the token itself is never a parameter.
 */
const TOKEN_ID = TokenId.optional().describe('actions: the id of the API token the actions came with (`tokenId` of POST /v1/tokens, `token.id` of a row), never the token itself');

const ComplianceQueryString = z.strictObject(
  Object.fromEntries(
    PARAMS.map((p) => {
      if (p === 'tokenId') return [p, TOKEN_ID];
      const documented = documentedAs(z.string().max(200).optional(), p === 'after' ? afterReaders() : readerOf(p), DOCUMENTED_AS[p]);
      const description = p === 'after' ? AFTER : DESCRIBED[p];
      return [p, description === undefined ? documented : documented.describe(description)];
    }),
  ) as Record<Param, z.ZodOptional<z.ZodString>>,
);

/** How to start again after a refused `after` (./resume-point.ts). */
const RESTART_PAGING = 'page again from the start (without `after`), and set aside the rows of pages read past the newest event or from another log';

/**
 * An `after` this log is not where it came from, refused before anything is read (./resume-point.ts): a tagged
 * cursor whose event this log does not hold at its position (review 199), then any position past the head. The
 * refusal names `query.after`, as every refusal of a query value does. `keyed`: the tagger of cursors at a
 * pseudonym's event (./compliance-rows.ts).
 */
const refuseAfterNotInLog = async (context: ServiceContext, cursor: ComplianceCursor | undefined, after: unknown, keyed: TaggerOnDemand | undefined): Promise<void> => {
  try {
    const endedAt = cursor?.endedAt;
    if (endedAt?.tag !== undefined) {
      const taggers = cursorTaggersAt(context.credence.store, endedAt.position, keyed);
      await refuseResumePointNotInLog(context, endedAt.position, RESTART_PAGING, undefined, { tag: endedAt.tag, taggers });
    }
    await refuseResumePointNotInLog(context, positionOfAfter(after), RESTART_PAGING);
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    throw new HttpProblem(error.status, error.code, `query.after: ${error.message}`, { ...error.extensions, path: 'query.after' }, error.headers);
  }
};

// Declared for CSV above all, whose rows have no field for them: a pager reads where to go on from here.
const PAGING_HEADERS: ResponseHeaders = {
  'credence-truncated': { type: 'string', enum: ['true', 'false'], description: 'more rows matched than `limit`' },
  'credence-next-after': {
    type: 'string',
    pattern: '^(0|[1-9][0-9]*)((~[0-9a-f]{8})?(\\.[0-9a-f]{8})?|:[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}(@(0|[1-9][0-9]*)~[0-9a-f]{8}(\\.[0-9a-f]{8})?)?)$',
    description:
      'with `credence-truncated: true`, for revocations, actions, provisioned, expiring, dangling-associations and dangling-credentials: the `after` of the next ' +
      'page, tagged with the event it ends at and the digest of its query and parameters (`nextAfter`)',
  },
  ...EVENTS_BEHIND_HEADER_DOC,
};

const QueryName = z.enum(COMPLIANCE_QUERY_NAMES as [ComplianceQueryName, ...ComplianceQueryName[]]);

const Row = z.looseObject({ position: DecimalString.describe('global position of the event that proves the row') });

/** The parameter names of a query, read from its zod object schema. */
const paramNames = (name: ComplianceQueryName): string[] => Object.keys((COMPLIANCE_QUERIES[name].params as unknown as z.ZodObject).shape);

const issuesOf = (error: z.ZodError): FieldIssue[] =>
  error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((k) => ({ path: `query.${k}`, rule: 'unrecognized_key', message: 'this query takes no such parameter' }))
      : // A rule of the catalog's own (`required`) is named as such, not as zod's `custom`.
        [{ path: ['query', ...issue.path.map(String)].join('.'), rule: issue.code === 'custom' && typeof issue.params?.['rule'] === 'string' ? issue.params['rule'] : issue.code, message: issue.message }],
  );

/**
 * The answer; `provisioned` of a subscription the read model holds no SubscriptionCreated of is 404 naming
 * `query.subscription` (review 155: a typo's empty list read as an all-clear). Unless the read model is behind and the
 * store holds the subscription: nothing provisioned under it can have been handled either, and the lag is said.
 */
const answerOrUnknown = async (context: ServiceContext, name: ComplianceQueryName, params: unknown, eventsBehind: number): Promise<ComplianceAnswer> => {
  try {
    const answer = () => answerQuery(name, context.credence.readModels, params, context.credence.engine.clock.now());
    return await answeredOrBehind(answer, context.credence.store, eventsBehind);
  } catch (error) {
    if (!isCredenceError(error, 'not_found') || error.problem.code !== 'not_found') throw error;
    throw new HttpProblem(404, 'not_found', `query.subscription: ${error.message}`, { path: 'query.subscription' });
  }
};

export const complianceRoutes: RouteModule = (app, context) => {
  // A cursor at a pseudonym's event is tagged under the pseudonym key, never a plain hash (review 208; ./compliance-rows.ts).
  const keyed = keyedTagger(context.credence.pseudonyms?.deriver);

  app.get('/v1/compliance', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'The compliance query catalog',
      description: 'Each named query with what it answers and the query-string parameters it takes.',
      tags: ['compliance'],
      response: { 200: z.object({ queries: z.array(z.object({ name: QueryName, summary: z.string(), params: z.array(z.string()) })) }) },
    },
    handler: async () => ({
      queries: COMPLIANCE_QUERY_NAMES.map((name) => ({ name, summary: COMPLIANCE_QUERIES[name].summary, params: paramNames(name) })),
    }),
  });

  app.get('/v1/compliance/:query', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Run a compliance query',
      description:
        'Parameters in the query string, parsed by the query\'s own schema (see GET /v1/compliance). Every row names the global position ' +
        'of the event that proves it. JSON by default; CSV (header row, RFC 4180) when `Accept` prefers `text/csv` (weights ' +
        `count: \`text/csv;q=0\` is JSON). At most \`limit\` rows (default ${DEFAULT_ROWS}, at most ${MAX_ROWS}); \`truncated\` (and the ` +
        'credence-truncated header, CSV included) says more matched; the queries in log order (revocations, actions) and ' +
        '`expiring` (by its order, notAfter then credential id: `<notAfterMs>:<credentialId>`) and `dangling-associations` (by the ' +
        'position that ended the parent, its credential, node, App-ID or App-ID enrolment, then association id: `<position>:<associationId>`) and ' +
        '`dangling-credentials` (by the position that ended the owner, its node or App-ID, then credential id: `<position>:<credentialId>`) and ' +
        '`provisioned` (by listed position then credential id: `<listedPosition>:<credentialId>`) then ' +
        'name `nextAfter` (and the credence-next-after header), to pass as `after` for the next page, tagged with the event the page ' +
        'ended at so that a cursor of another log is refused (409 `resume_point_not_in_log`, naming `query.after`), not paged after, ' +
        'and with a digest of the query and its parameters so that one of another query or other parameters is too (400 ' +
        '`cursor_of_another_query`, naming `query.after`). ' +
        '`provisioned` lists rows in ' +
        'the order they were written (`listedPosition`: the provisioning, or for a credential provisioned before its node was known, ' +
        'the enrolment or association that named it, after rows listed before), then by credential id, and pages by both: rows one ' +
        'event listed together share a listed position and a page ends at `limit` among them too. An `after` past the store\'s ' +
        'newest event is refused (409 `resume_point_not_in_log`, naming `head`), a window whose `to` is not later than its `from` ' +
        '(400, naming `to`), and a `subscription` no SubscriptionCreated names (404 `not_found`, naming `query.subscription`): none is ' +
        'answered with no rows. A row at a pseudonym\'s stream (its rotations\' and resolutions\' `actions`) is left out but to an ' +
        'auditor who recorded a resolution of that pseudonym, as the canonical event stream leaves its events out: a page may then ' +
        'hold fewer than `limit` rows, or none, while `truncated` says more follow; page on with `nextAfter`.',
      tags: ['compliance'],
      params: z.strictObject({ query: QueryName }),
      querystring: ComplianceQueryString,
      response: {
        200: {
          description: 'the rows',
          headers: PAGING_HEADERS,
          content: {
            'application/json': {
              schema: z.object({
                query: QueryName,
                params: z.record(z.string(), z.string()),
                eventsBehind: z
                  .number()
                  .int()
                  .min(0)
                  .describe(
                    'stored events the read models had not handled when this was answered (0: none; at least 1 whenever they had not ' +
                      'reached the store\'s head): rows those events prove may be missing. Also the credence-events-behind header, CSV included',
                  ),
                eventsBehindAtLeast: z
                  .literal(true)
                  .optional()
                  .describe(
                    `present when the count of \`eventsBehind\` stopped at its limit (${LAG_COUNT_LIMIT}): the read models were at least that ` +
                      'many events behind. Also the credence-events-behind-at-least header, CSV included',
                  ),
                rows: z.array(Row),
                truncated: z.boolean().describe('more rows matched than `limit`: narrow the parameters, or page on with `after`'),
                nextAfter: z
                  .union([
                    DecimalString,
                    z.string().regex(/^\d{1,19}:[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/),
                    ...TAGGED_CURSOR_PATTERNS.map((pattern) => z.string().regex(new RegExp(pattern))),
                  ])
                  .optional()
                  .describe(
                    'with `truncated`, for revocations and actions (`<position>~<tag>`), provisioned ' +
                      '(`<listedPosition>:<credentialId>@<position>~<tag>`), expiring ' +
                      '(`<notAfterMs>:<credentialId>@<position>~<tag>`), dangling-associations (`<position>:<associationId>@<position>~<tag>`) ' +
                      'and dangling-credentials (`<position>:<credentialId>@<position>~<tag>`): ' +
                      'the `after` of the next page, as it is. The tag names the event the page ended at (of its last row, or the one that listed ' +
                      'it), as an event stream\'s id does (at a pseudonym\'s event, as the pseudonymised stream\'s does); untagged where no event is there. ' +
                      'Then `.<q8>`, the digest of the query and its parameters but `limit` (a position untagged too: `<position>.<q8>`; an untagged key goes without)',
                  ),
              }),
            },
            'text/csv': { schema: z.string().describe("a header row, the query's own columns whatever the rows carry (the same on every page, and with no rows), then one row per answer; nested fields as dotted columns") },
          },
        },
      },
    },
    handler: async (request, reply) => {
      const name = request.params.query;
      const raw = Object.fromEntries(Object.entries(request.query).filter((e): e is [string, string] => e[1] !== undefined));
      const definition = COMPLIANCE_QUERIES[name];
      // The query's own schema reads the cursor; the event it is tagged with is checked against this log below.
      const cursor = raw['after'] === undefined ? undefined : complianceCursorOf(raw['after']);
      const params = definition.params.safeParse(cursor === undefined ? raw : { ...raw, after: cursor.after });
      if (!params.success) throw validationError(issuesOf(params.error), 'query');
      // A provisioned cursor naming one event by its key and another by its tag would page after rows already read (review 403).
      const twoPositions = cursorOfTwoPositions(name, cursor, (params.data as { readonly after?: unknown }).after, '`after`');
      if (twoPositions !== undefined) throw validationError([{ path: 'query.after', rule: CURSOR_FORM, message: twoPositions }], 'query');
      // A cursor of another query, or of other parameters, would skip or repeat rows without a word (review 272).
      const another = cursorOfAnotherQuery(cursor, name, params.data, '`after`');
      if (another !== undefined) throw validationError([{ path: 'query.after', rule: CURSOR_OF_ANOTHER_QUERY, message: another }], 'query');
      const query = queryDigestOf(name, params.data);
      // An `after` of another log, or past the store's head, would skip rows, or answer an empty last page (which a
      // pager reads as "no more rows"), without a word.
      await refuseAfterNotInLog(context, cursor, (params.data as { readonly after?: unknown }).after, keyed);
      const { eventsBehind, eventsBehindAtLeast } = await complianceLagInto(context, reply, name);
      const answer = await answerOrUnknown(context, name, params.data, eventsBehind);
      // A pseudonym's rows are told as the canonical stream tells its events (review 251: an operator's own demand
      // rotation named the new pseudonym's stream); left out after the cut, so `nextAfter` below is still the answer's.
      const told = await rowsTold(answer.rows, toldOfStreamIds(context, request.principal));
      // A rotation's cause and ids name the node behind its pseudonym (SER-025). In turns: 10,000 rows are tens of ms.
      const rows = await mapInTurns(told, (row) => {
        const wire = toWire(row) as Record<string, unknown>;
        return name === 'actions' ? withoutNodeTrail(wire) : wire;
      });
      reply.header('vary', 'accept');
      reply.header('credence-truncated', String(answer.truncated));
      const nextAfter = await taggedNextAfter(context.credence.store, answer, keyed, query);
      // CSV has no field for it: the next page's `after` travels as a header there (and here too).
      if (nextAfter !== undefined) reply.header('credence-next-after', nextAfter);
      if (wantsCsv(request.headers.accept)) return reply.type('text/csv; charset=utf-8').send(toCsv(rows, csvColumnsOf(name)));
      // Written in turns, past the route's serializer (`Row` checks only each row's position, which toWire made a
      // decimal string): 10,000 rows encoded and stringified at once held the loop 190 to 240 ms (review 242).
      return sendJsonInTurns(
        reply,
        { query: name, params: raw, eventsBehind, ...(eventsBehindAtLeast === true ? { eventsBehindAtLeast } : {}), truncated: answer.truncated, ...(nextAfter !== undefined ? { nextAfter } : {}), rows: rows as z.infer<typeof Row>[] },
        'rows',
      );
    },
  });
};
