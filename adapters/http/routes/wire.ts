import type { FastifyReply, FastifySchema } from 'fastify';
import { z } from 'zod';
import { entityExists } from '../../../domain/entity-exists.ts';
import { notFound } from '../../../domain/errors.ts';
import { PositionString } from '../../../domain/positions.ts';
import { EntityKind, streamIdOf } from '../../../domain/streams.ts';
import { RecordedEventWire } from '../../../domain/transparency/index.ts';
import { ACCESS } from '../auth/roles.ts';
import type { App, ServiceContext } from '../context.ts';
import type { ResponseHeaders } from '../response-headers.ts';
import { entityRecordBound } from '../service-limits-config.ts';
import { LAG_COUNT_LIMIT } from '../../runtime/live-lag.ts';

export { PageCursor } from '../page-cursor.ts';

/**
 * What the read-side route modules share: positions and bigints as decimal strings (JSON has no 64-bit integers),
 * entity addresses in paths, and opaque page cursors.
 */

/**
 * A global position or revision on the wire: a decimal string (EventStoreDB positions exceed 2^53), bounded by
 * what a store holds (2^63 - 1; domain/positions.ts), so a query naming a larger one is a 400, not a store error.
 */
export const DecimalString = PositionString;

/**
 * A stored event in every response that carries one (command outcomes, inclusion proofs, evidence bundles): the JSON
 * form of domain/transparency, which `credence verify --event` reads; `recordedEventToJson` writes it.
 */
export const StoredEventWire = RecordedEventWire.meta({
  id: 'StoredEvent',
  description: 'a stored event as `credence verify --event` reads it: position and revision as decimal strings',
});

/** Any value with its bigints as decimal strings, the way every response carries positions. */
export type Wire<T> = T extends bigint
  ? string
  : T extends readonly (infer U)[]
    ? Wire<U>[]
    : T extends Date | Uint8Array
      ? T
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export const toWire = <T>(value: T): Wire<T> => {
  if (typeof value === 'bigint') return value.toString(10) as Wire<T>;
  if (Array.isArray(value)) return value.map(toWire) as Wire<T>;
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)])) as Wire<T>;
  }
  return value as Wire<T>;
};

/** Entity ids as the domain writes them (tokens; see domain/ids.ts), bounded before any pattern reads them. */
export const EntityIdParam = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9/][A-Za-z0-9._:~-]{0,255}$/, 'an entity id: letters, digits and . _ : ~ -');

export const EntityParams = z.strictObject({ kind: EntityKind, id: EntityIdParam });
export const streamOf = (params: z.infer<typeof EntityParams>): string => streamIdOf(params.kind, params.id);

/** The entity a `…/{kind}/{id}` route names: its kind and id from the path, and its stream. */
export interface EntityAddress {
  readonly kind: EntityKind;
  readonly id: string;
  readonly streamId: string;
}

/** What a route of one entity documents besides its path; `querystring` when it takes one. */
export interface EntityRouteSchema<Response extends z.ZodType, Query extends z.ZodType> {
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly querystring?: Query;
  readonly response: Response;
  /** Set on a route that says its read models' lag (readYourWritesInto): its 200 declares the headers (review 416). */
  readonly eventsBehind?: true;
}

/**
 * `GET path` of one entity for the read side (ACCESS.read): `path` ends in `:kind/:id` (checked by EntityParams) or
 * goes on after it, and `answer` gets the entity's address and the parsed query, and returns the 200 body.
 */
export const getEntityRoute = <Response extends z.ZodType, Query extends z.ZodType = z.ZodObject<{}>>(
  app: App,
  path: `/v1/${string}/:kind/:id${string}`,
  schema: EntityRouteSchema<Response, Query>,
  answer: (entity: EntityAddress, query: z.output<Query>, reply: FastifyReply) => Promise<z.output<Response>>,
): void => {
  const { summary, description, tags, querystring, response, eventsBehind } = schema;
  // Typed as a plain FastifySchema: the type provider cannot resolve a generic response; `answer` carries its type.
  const routeSchema: FastifySchema = {
    summary,
    description,
    tags: [...tags],
    params: EntityParams,
    ...(querystring !== undefined ? { querystring } : {}),
    response: { 200: eventsBehind === true ? withEventsBehind(response) : response },
  };
  app.get(path, {
    config: { access: ACCESS.read },
    schema: routeSchema,
    handler: async (request, reply) => {
      const params = request.params as z.output<typeof EntityParams>;
      return answer({ ...params, streamId: streamOf(params) }, request.query as z.output<Query>, reply);
    },
  });
};

/**
 * 404 unless the entity exists: its stream holds a record that is not a fact claim (entityExists; review 294: a
 * registration's claim on a credential not issued yet was served as that credential), looked for within the records
 * one request reads (limits.maxEntityRecords).
 */
export const mustExist = async (context: ServiceContext, streamId: string, kind: EntityKind): Promise<void> => {
  if (!(await entityExists(context.credence.store, streamId, entityRecordBound(context.limits)))) throw notFound(streamId, kind);
};

/**
 * A replay finding, of the fleet or of one entity, with the rule that refused it and the earlier finding it follows
 * from: `credence state --at` and `history` over a server tell a finding by a newer rule, or one following from it, from
 * a broken history by `ruleSince` and `followsFrom` (reviews 323, 325), as on a data folder.
 */
export const Finding = z.object({
  streamId: z.string(),
  position: DecimalString,
  revision: DecimalString,
  type: z.string(),
  reason: z.string(),
  rule: z.string().optional().describe('the machine rule (guard) that refused the event, when one did'),
  ruleSince: z.string().optional().describe('the machines version that added `rule` for this event type: the stored event may predate it'),
  followsFrom: z
    .object({ streamId: z.string(), position: DecimalString })
    .optional()
    .describe(
      'the earlier finding this refusal follows from: its entity, or one whose fact the event read, was left unrecorded by that ' +
        "finding's event, so this event was judged against an entity replay could not hold as stored: the refusal says nothing " +
        'either way about this event itself (it may be legal, or tampered with too); read it beside the finding it follows from. ' +
        "One entity's replay links findings of its own stream only. " +
        "Left out where it links a pseudonym's stream to another (its node's), except for an auditor who recorded a resolution of that pseudonym",
    ),
});
export const Verdict = z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), findings: z.array(Finding) })]);

/** How long a read waits for the live read models to reach the head it saw (read-your-writes), at most. */
const READ_YOUR_WRITES_MS = 1_000;

/**
 * How far behind an answer's read models were: with `eventsBehindAtLeast` when a count stopped at its limit
 * (LAG_COUNT_LIMIT, 100,000: the live runtime counts no further), the lag being at least `eventsBehind` (review 413).
 */
export interface EventsBehind {
  readonly eventsBehind: number;
  readonly eventsBehindAtLeast?: true;
}

/**
 * Whether a live lag is past readiness's bound (`limits.readyMaxLagEvents`): a count above it, or one said at least
 * (review 413) at or above it, or at the count limit, past which no count can tell it under a bound set higher. At
 * the limit the count was said exact, so that /readyz stayed ready at any lag with a bound of 100,000 or more.
 */
export const pastReadyBound = (lag: EventsBehind, bound: number): boolean =>
  lag.eventsBehind > bound || (lag.eventsBehindAtLeast === true && lag.eventsBehind >= Math.min(bound, LAG_COUNT_LIMIT));

/**
 * Waits (bounded) until the live components have handled what is stored now, so a read-model answer includes the
 * caller's own writes. A runtime already further behind than readiness allows is not waited for: the answer comes
 * from where the read models are (GET /v1/projections shows how far behind), not a second later from the same place.
 */
const readYourWrites = async (context: ServiceContext, readModels: readonly ReadModelName[]): Promise<EventsBehind> => {
  const head = await context.credence.store.headPosition();
  if (head === undefined) return { eventsBehind: 0 };
  const wait = pastReadyBound(context.live.lag(readModels), context.limits.readyMaxLagEvents) ? 0 : READ_YOUR_WRITES_MS;
  // What the answer that follows may lack: stored events the read models it reads had not handled yet (another
  // component behind, the transparency log say, is not this answer's lag). 0 only when they reached the store's
  // head; at least 1 otherwise, even when the live runtime is stopped and counts nothing.
  if (await context.live.caughtUp(head, wait, readModels)) return { eventsBehind: 0 };
  return lagBehind(context, readModels);
};

/** The live lag of `readModels` for an answer that did not reach the head: at least 1, and said at least at its limit. */
export const lagBehind = (context: ServiceContext, readModels: readonly ReadModelName[]): EventsBehind => {
  const lag = context.live.lag(readModels);
  return { eventsBehind: Math.max(1, lag.eventsBehind), ...(lag.eventsBehindAtLeast === true ? { eventsBehindAtLeast: true as const } : {}) };
};

/** The live components whose read models the service's answers read. */
export type ReadModelName = 'audit' | 'compliance' | 'entities' | 'cascade';

/** The header a read-model answer names its lag in, so that a client can tell a stale answer from a whole one. */
export const EVENTS_BEHIND_HEADER = 'credence-events-behind';
/**
 * Sent (`true`) beside it when the count stopped at its limit: the lag is at least that many (review 413). A header
 * of its own, so that `credence-events-behind` stays a whole number for every client that reads it.
 */
export const EVENTS_BEHIND_AT_LEAST_HEADER = 'credence-events-behind-at-least';
/** The headers as the OpenAPI document declares them on an answer that sends them. */
export const EVENTS_BEHIND_HEADER_DOC: ResponseHeaders = {
  [EVENTS_BEHIND_HEADER]: {
    type: 'integer',
    minimum: 0,
    description: "stored events the read models had not handled when this was answered (0: none): rows they prove may be missing",
  },
  [EVENTS_BEHIND_AT_LEAST_HEADER]: {
    type: 'string',
    enum: ['true'],
    description:
      `sent only when the count in credence-events-behind stopped at its limit (${LAG_COUNT_LIMIT}): the read models were at least that many events behind`,
  },
};

/**
 * A 200 of `schema` that sends the lag headers (readYourWritesInto), declaring them (review 416): the OpenAPI document
 * keeps a response's headers from a response object only; its description is the route's success (openapi-transform.ts).
 */
export const withEventsBehind = <Schema extends z.ZodType>(schema: Schema) => ({
  headers: EVENTS_BEHIND_HEADER_DOC,
  content: { 'application/json': { schema } },
});

/** The lag named in the answer's headers (`credence-events-behind`, and `credence-events-behind-at-least` when so). */
export const eventsBehindInto = (reply: FastifyReply, behind: EventsBehind): EventsBehind => {
  reply.header(EVENTS_BEHIND_HEADER, String(behind.eventsBehind));
  if (behind.eventsBehindAtLeast === true) reply.header(EVENTS_BEHIND_AT_LEAST_HEADER, 'true');
  return behind;
};

/** `readYourWrites`, its lag named in the answer's headers (eventsBehindInto); the lag, for a body that says it too. */
export const readYourWritesInto = async (context: ServiceContext, reply: FastifyReply, readModels: readonly ReadModelName[]): Promise<EventsBehind> =>
  eventsBehindInto(reply, await readYourWrites(context, readModels));
