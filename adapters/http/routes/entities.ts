import { z } from 'zod';
import { notFound, validationError } from '../../../domain/errors.ts';
import { ENTITY_KINDS, EntityKind } from '../../../domain/streams.ts';
import { MACHINES } from '../../../machines/index.ts';
import { timelinePage, stateAt } from '../../../projections/audit/index.ts';
import type { EntityRow } from '../../../projections/entities/index.ts';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule, ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';
import { QueryWholeNumber, QueryWholeNumberOr } from '../query-values.ts';
import { lengthBeyond, refuseLongEntity } from './entity-bound.ts';
import { entityNow, type Broken } from './entity-now.ts';
import { wholeTimelineInTurns } from './entity-timeline.ts';
import { encodedAs, sendJsonInTurns, sendJsonOfInTurns, verdictInTurns } from './json-in-turns.ts';
import { refuseUnlessResolved } from './pseudonym-reads.ts';
import { listShown, refusePseudonymListing } from './pseudonym-listing.ts';
import { DecimalString, getEntityRoute, mustExist, PageCursor, readYourWritesInto, toWire, Verdict, withEventsBehind } from './wire.ts';

const MAX_PAGE = 500;

/** The states of the kind's machine: what `state` may name with that `kind`. */
const statesOf = (kind: EntityKind): readonly string[] => Object.keys(MACHINES[kind].root.states);
/** What `state` may name without a `kind`: a state of any machine. */
const ANY_STATE = [...new Set(ENTITY_KINDS.flatMap(statesOf))].sort();

/**
 * Refuses a state no machine of `kind` has (of any kind, without one): a misspelt filter matched nothing and was
 * answered as an empty list, as if no entity were in that state (review 144).
 */
const refuseUnknownState = (kind: EntityKind | undefined, state: string | undefined): void => {
  if (state === undefined) return;
  const states = kind === undefined ? ANY_STATE : statesOf(kind);
  if (states.includes(state)) return;
  const of = kind === undefined ? 'of any entity' : `of a ${kind}`;
  throw validationError([{ path: 'query.state', rule: 'unknown_state', message: `not a state ${of}: give one of ${states.join(', ')}` }], 'query');
};

const Context = z.record(z.string(), z.unknown()).describe("the machine's context (times in epoch ms)");

const EntitySummary = z
  .object({
    streamId: z.string(),
    kind: EntityKind,
    id: z.string(),
    state: z.string(),
    revision: DecimalString.describe("stream revision of the entity's last event"),
    position: DecimalString.optional().describe("global position of the entity's last event; left out of a pseudonym's (review 227: listed beside the node registrations of the event stream, the positions named every pseudonym's node)"),
    updatedAt: z.string().optional().describe("occurredAt of the entity's last event; left out of a pseudonym's, as its position"),
    broken: z
      .object({ position: DecimalString.optional().describe("left out of a pseudonym's, as its position"), reason: z.string() })
      .optional()
      .describe("first stored event its own machine refused (see /v1/replay); a pseudonym's says only that one was"),
  })
  .meta({ id: 'EntitySummary' });

const EntityPage = z.object({
  items: z.array(EntitySummary),
  nextCursor: z.string().optional().describe('pass as `cursor` for the next page; absent on the last page'),
});

const Entity = z.object({
  streamId: z.string(),
  kind: EntityKind,
  id: z.string(),
  state: z.string(),
  revision: DecimalString.describe('stream revision (what an append expects)'),
  position: DecimalString.optional().describe("global position of the entity's last event (a pseudonym's is answered only to an auditor who recorded a resolution of it)"),
  updatedAt: z.string().optional().describe("occurredAt of the entity's last event"),
  context: Context,
  broken: z
    .object({
      position: DecimalString.optional(),
      reason: z.string(),
      rule: z.string().optional().describe('the machine rule (guard) that refused the event, when one did'),
      ruleSince: z.string().optional().describe('the machines version that added `rule` for this event type: the stored event may predate it'),
      findingsTotal: z.number().int().optional().describe('how many stored events of the entity its replay refuses'),
      findingsByNewerRules: z
        .number()
        .int()
        .optional()
        .describe('of `findingsTotal`, those refused by a rule newer than the stored event that follow from no earlier finding, as GET /v1/replay counts them'),
      findingsFollowingNewerRules: z
        .number()
        .int()
        .optional()
        .describe(
          'of `findingsTotal`, those that follow from a finding by a newer rule (an earlier refusal of the entity left it unrecorded). ' +
            'When these and `findingsByNewerRules` are all the findings, the entity has no broken history (docs/service.md, Upgrading)',
        ),
    })
    .optional()
    .describe(
      'the first stored event its replay with every guard refuses (GET /v1/replay/{kind}/{id}), by its own rules or by a rule reading ' +
        "another entity; `state` and `context` are then as applied: the engine's, or, when its own machine refuses the event, " +
        'what its accepted events leave',
    ),
});

export const TimelineEntry = z.object({
  position: DecimalString.describe('global position: what an inclusion proof is asked for'),
  eventId: z.string(),
  streamId: z.string(),
  revision: DecimalString,
  type: z.string(),
  occurredAt: z.string(),
  actor: z.object({ id: z.string(), role: z.string() }),
  token: z
    .object({
      id: z.string().describe('the token id (`jti`)'),
      issuedBy: z.string().describe('the subject that issued the token'),
      issuedWith: z
        .string()
        .optional()
        .describe('the id of the token it was issued with (review 196): absent for a token made on the command line, and on events recorded before'),
    })
    .optional()
    .describe(
      'the API token the command came with, recorded by the service (review 188): an admin may issue a token under any subject, so ' +
        '`actor.id` alone does not tell who held it. Absent on events recorded before, and on commands sent with no token',
    ),
  commandId: z.string(),
  commandType: z.string(),
  correlationId: z.string(),
  causationId: z.string(),
  causedBy: z.object({ position: DecimalString, streamId: z.string(), type: z.string() }).optional(),
  reason: z.string().optional(),
  // `reason` last: the compliance CSV's columns follow this order, and one added at the end moves no other.
  signature: z.object({
    status: z.string(),
    keyFingerprint: z.string().optional(),
    reason: z.string().optional().describe('why the status is `invalid`: `unknown_key`, `retired`, `does_not_verify`, ...'),
  }),
});

const Timeline = z.object({
  streamId: z.string(),
  entries: z.array(TimelineEntry),
  nextAfter: DecimalString.optional().describe('with `limit`, when more entries follow: the `after` of the next page'),
});

const TimelineQuery = z.strictObject({
  limit: QueryWholeNumber(1, MAX_PAGE).optional().describe(`at most this many entries (at most ${MAX_PAGE}): one page; without it, every entry`),
  after: DecimalString.optional().describe('with `limit`: the entries after this stream revision (the `nextAfter` of the page before)'),
});

/**
 * A page after a revision past the stream's last, refused (review 272): answered, it was empty and without `nextAfter`,
 * which a pager reads as "no more entries". Refused as a compliance `after` past the log's head is (./resume-point.ts):
 * 409 `resume_point_not_in_log` naming `query.after`, `head` here the stream's last revision. Judged by the store, not
 * the audit trail: an `after` the trail has not reached yet is its lag, which the answer's header says.
 */
const refuseAfterPastTheStream = async (context: ServiceContext, streamId: string, after: string | undefined): Promise<void> => {
  if (after === undefined) return;
  const { store } = context.credence;
  if ((await store.readStream(streamId, { fromRevision: BigInt(after), maxCount: 1 })).length > 0) return;
  const length = await lengthBeyond(store, streamId, 0);
  const last = length === undefined ? undefined : (length - 1).toString(10);
  const reach = last === undefined ? 'the stream holds no event' : `its last revision is ${last}`;
  throw new HttpProblem(
    409,
    'resume_point_not_in_log',
    `query.after: cannot page after revision ${after} of ${streamId}: ${reach}, so the page would be empty and read as the last; page again from the start (without \`after\`)`,
    { resumeAfter: after, ...(last !== undefined ? { head: last } : {}), path: 'query.after' },
  );
};

/** What a refused whole-stream read of an entity can do instead (./entity-bound.ts). */
const PAGE_THE_TIMELINE = `read its history in pages: GET /v1/entities/{kind}/{id}/timeline?limit=${MAX_PAGE}, then with \`after\` set to each page's \`nextAfter\``;

const EventRef = z.object({ position: DecimalString, revision: DecimalString, type: z.string(), occurredAt: z.string().optional() });
const StateAtWire = z.object({
  streamId: z.string(),
  kind: EntityKind,
  at: z.string(),
  state: z.string().describe('`absent` before the first event'),
  context: Context.optional(),
  asOf: EventRef.optional().describe('the last event by then that its machine accepted: the state is after it'),
  lastStored: EventRef.optional().describe('the last stored event by then, when its machine refused it (a finding)'),
  events: z.number().int(),
  verdict: Verdict,
  brokenFacts: z.array(z.string()).optional().describe("facts with a broken history that events accepted by then read (the fact's stream is the finding)"),
});

/** GET /v1/entities/{kind}/{id}'s `broken`: where, why, and its findings counted. */
const placedBroken = (broken: Broken): NonNullable<z.infer<typeof Entity>['broken']> => {
  const { position, ...said } = broken;
  return { position: position.toString(10), ...said };
};

/**
 * A listed entity. A pseudonym's row leaves out where and when its last event was (review 227): its first rotation
 * sits right after its node's registration, in the same order, so the listing's positions (or times), paired with the
 * registrations of the event stream, named every pseudonym's node without any recorded resolution (SER-025). Its
 * resolution-holding auditor reads them in its timeline.
 */
const summaryWire = (row: EntityRow): z.infer<typeof EntitySummary> => {
  const wire = toWire(row) as z.infer<typeof EntitySummary>;
  if (row.kind !== 'pseudonym') return wire;
  const { position: _position, updatedAt: _updatedAt, broken, ...placeless } = wire;
  // Its broken event's position places it as its own position would, and its reason may name the node (an event of
  // the node's stored in the pseudonym's stream): both are read on its own routes, where a resolution is asked for.
  const said = 'a stored event is refused by its machine; where and why: GET /v1/entities/pseudonym/{id} or /v1/replay/pseudonym/{id}';
  return { ...placeless, ...(broken !== undefined ? { broken: { reason: said } } : {}) } as z.infer<typeof EntitySummary>;
};

/** Rows read per query while a listing passes over pseudonyms it does not show. */
const SCAN_CHUNK = MAX_PAGE + 1;

export const entityRoutes: RouteModule = (app, context) => {
  app.get('/v1/entities', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'List entities by kind and state',
      description:
        'Entities of the entities read model, in stream-id order, `limit` per page (default 50, at most 500); `nextCursor` continues. ' +
        'The read model follows the store live: a row may be a moment behind GET /v1/entities/{kind}/{id}; the credence-events-behind ' +
        'header says by how many stored events the read model was behind when this was answered (after waiting up to a second for it). ' +
        'Pseudonyms are listed only to an auditor, those it recorded a resolution of (review 281: listed before and after a rotation, ' +
        "the list named the node's new pseudonym); `kind=pseudonym` is refused to the other roles (403), whose listing leaves them out. " +
        'How many there are is in GET /v1/entities/counts.',
      tags: ['entities'],
      querystring: z.strictObject({
        kind: EntityKind.optional(),
        state: z
          .string()
          .min(1)
          .max(64)
          .regex(/^[A-Za-z]+$/, 'a state name, e.g. revoked')
          .meta({ enum: ANY_STATE })
          .describe("a state of the machine of `kind` (of any kind without one); another is refused (400 `unknown_state`)")
          .optional(),
        limit: QueryWholeNumberOr(1, MAX_PAGE, 50),
        cursor: z
          .string()
          .min(1)
          .max(512)
          .describe("a page's `nextCursor`, with the `kind` and `state` it was returned for; another, or one after no stream of `kind` (of any kind without one), is refused (400 `cursor` naming `query.cursor`)")
          .optional(),
      }),
      response: { 200: withEventsBehind(EntityPage) },
    },
    handler: async (request, reply) => {
      const { kind, state, limit, cursor } = request.query;
      refuseUnknownState(kind, state);
      if (kind === 'pseudonym') refusePseudonymListing(request.principal);
      const listing = JSON.stringify([kind ?? null, state ?? null]);
      // Refused before any wait: a cursor of another listing, or after no stream of `kind` (review 461).
      const after = cursor === undefined ? undefined : PageCursor.decodeStreamAfter(cursor, listing, kind);
      // As the timeline and the dependents do: wait briefly for the read model, then say how far behind it answers
      // (found in review: a revoked credential was listed live, with nothing saying the list was behind).
      await readYourWritesInto(context, reply, ['entities']);
      const rows = await listShown(context, request.principal, {
        ...(kind !== undefined ? { kind } : {}),
        ...(state !== undefined ? { state } : {}),
        ...(after !== undefined ? { after } : {}),
        limit: limit + 1,
      }, SCAN_CHUNK);
      const page = rows.slice(0, limit);
      return {
        items: page.map(summaryWire),
        ...(rows.length > limit ? { nextCursor: PageCursor.encode(page.at(-1)!.streamId, listing) } : {}),
      };
    },
  });

  getEntityRoute(
    app,
    '/v1/entities/:kind/:id',
    {
      summary: "One entity's current state",
      description:
        'The entity as its machine sees it now, rebuilt from its stream (the same view the engine decides commands on). Its stream is ' +
        'judged as GET /v1/replay/{kind}/{id} judges it: when a stored event is refused (by its own rules or by one reading another ' +
        'entity), `broken` names the first and why, and `state` and `context` are as applied. A pseudonym\'s is refused (403) ' +
        'but to an auditor who recorded a resolution of it, the same whether it exists or not (review 409: its revision and count of ' +
        'resolutions, or a 404, told a caller who may not resolve it that it exists, and when auditors resolved it). ' +
        `An entity of more than ${context.limits.maxEntityEvents} events is refused (422 \`entity_too_long\`): page its timeline instead.`,
      tags: ['entities'],
      response: Entity,
    },
    async ({ kind, id, streamId }, _query, reply) => {
      // A pseudonym's, before anything is read of it (its length included): to an auditor who resolved it (review 409).
      await refuseUnlessResolved(context, reply.request.principal, streamId);
      // A rebuild of the whole stream per call: refused before it for a stream too long for one request.
      await refuseLongEntity(context, streamId, PAGE_THE_TIMELINE);
      const entity = await entityNow(context, reply.request.principal, { kind, id, streamId });
      if (entity === undefined) throw notFound(streamId, kind);
      const { last, broken } = entity;
      return {
        streamId,
        kind,
        id,
        state: entity.state,
        revision: entity.revision.toString(10),
        position: last.position.toString(10),
        ...(last.occurredAt !== undefined ? { updatedAt: last.occurredAt } : {}),
        context: entity.context,
        ...(broken !== undefined ? { broken: placedBroken(broken) } : {}),
      };
    },
  );

  getEntityRoute(
    app,
    '/v1/entities/:kind/:id/timeline',
    {
      summary: "One entity's timeline",
      description:
        'Every event of the entity in stream order from the audit trail: who (actor), which command, why (reason), what caused it ' +
        '(a cascade, a schedule) and the request signature status: what was recorded, not whether its machine accepts it. The state ' +
        'after each event, and each event it refuses, is in GET /v1/replay/{kind}/{id}. ' +
        "A pseudonym's is refused (403) but to an auditor who recorded a resolution of it. With `limit`, one page of at most " +
        `\`limit\` entries after stream revision \`after\`, and \`nextAfter\` when more follow (an \`after\` past the stream's last revision is ` +
        "refused, 409 `resume_point_not_in_log` naming `query.after`, `head` its last revision); without it, every entry, and an entity of more " +
        `than ${context.limits.maxEntityEvents} events is refused (422 \`entity_too_long\`).`,
      tags: ['entities'],
      querystring: TimelineQuery,
      response: Timeline,
      eventsBehind: true,
    },
    async ({ streamId, kind }, query, reply) => {
      // A pseudonym's refusal first: the same for one that does not exist (review 409).
      await refuseUnlessResolved(context, reply.request.principal, streamId);
      await mustExist(context, streamId, kind);
      if (query.after !== undefined && query.limit === undefined) {
        throw validationError([{ path: 'query.after', rule: 'requires', message: 'pages with `limit`: pass both' }], 'query');
      }
      await refuseAfterPastTheStream(context, streamId, query.after);
      // Unpaged, the whole trail is one answer: bounded like every whole-stream read.
      if (query.limit === undefined) await refuseLongEntity(context, streamId, PAGE_THE_TIMELINE);
      // The audit trail may lack what the read models had not handled yet: the header says how much.
      await readYourWritesInto(context, reply, ['audit']);
      // Unpaged, read in pages and written in turns: at the bound one block of 220 to 520 ms before (review 242).
      if (query.limit === undefined) {
        return sendJsonInTurns(reply, { streamId, entries: await wholeTimelineInTurns(context.credence.readModels, streamId) }, 'entries');
      }
      // One more than asked says whether a next page exists without a count of the stream.
      const rows = timelinePage(context.credence.readModels, streamId, {
        limit: query.limit + 1,
        ...(query.after !== undefined ? { afterRevision: BigInt(query.after) } : {}),
      });
      const page = rows.slice(0, query.limit);
      return {
        streamId,
        entries: toWire(page),
        ...(rows.length > query.limit ? { nextAfter: page.at(-1)!.revision.toString(10) } : {}),
      };
    },
  );

  getEntityRoute(
    app,
    '/v1/entities/:kind/:id/state',
    {
      summary: 'An entity as it stood at an instant',
      description:
        "Its events with occurredAt <= `at` (default: now, by the service's clock) replayed through its machine with every guard; `state` is `absent` before its first event. " +
        "A pseudonym's is refused (403) but to an auditor who recorded a resolution of it. " +
        `An entity of more than ${context.limits.maxEntityEvents} events is refused (422 \`entity_too_long\`): page its timeline instead.`,
      tags: ['entities'],
      querystring: z.strictObject({ at: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-02-01T00:00:00Z' }).optional() }),
      response: StateAtWire,
    },
    async ({ streamId, kind }, query, reply) => {
      // A pseudonym's refusal first: the same for one that does not exist (review 409).
      await refuseUnlessResolved(context, reply.request.principal, streamId);
      await mustExist(context, streamId, kind);
      await refuseLongEntity(context, streamId, PAGE_THE_TIMELINE);
      const state = await stateAt(context.credence.store, streamId, query.at === undefined ? context.credence.engine.clock.now() : new Date(query.at));
      // Its findings (one per event of an entity at the bound) converted, encoded and written in turns, past the
      // route's serializer, in the bytes it gave (key order kept): all at once they were one block of 80 ms.
      const answer = {
        ...encodedAs(reply, StateAtWire, toWire({ ...state, verdict: { ok: true } })),
        verdict: await verdictInTurns(reply, state.verdict, toWire),
      };
      return sendJsonOfInTurns(reply, answer as z.infer<typeof StateAtWire>);
    },
  );
};
