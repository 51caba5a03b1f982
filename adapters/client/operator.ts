import { z } from 'zod';
import { PositionString, ResumePointString } from '../../domain/positions.ts';
import {
  CheckpointNote,
  ComplianceAnswerJson,
  ConsistencyAnswerJson,
  CsvText,
  EntityJson,
  KEYSET_CURSOR,
  POSITION_CURSOR,
  EntityPageJson,
  EntityReplayJson,
  FleetReplayJson,
  ProjectionStatusJson,
  StateAtJson,
  TimelineJson,
} from './answers.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, request, UnexpectedResponse, type HttpResponse, type RequestOptions } from './http.ts';
import { TokenId } from '../http/auth/token-ids.ts';
import { tokenPageCursor } from '../http/auth/token-page-cursor.ts';

export { UnexpectedResponse } from './http.ts';


/**
 * The largest answer read from each route, fitted to what it answers (review 126: every read took up to 64 MiB, so a
 * server or proxy answering `device init`'s entity check with 64 MiB held it for seconds and 1.4 GB of heap, past
 * `--timeout`). A command outcome, a token, a pseudonym's answer, a checkpoint or a consistency proof is a few
 * kilobytes, its ids and instants bounded (SER-001); an outcome echoes the data of the command's own events, so it is
 * read up to this plus the size of the command sent.
 */
export const MAX_ONE_ANSWER_BYTES = 1024 * 1024;
/**
 * One entity as the device commands read it (their node, credential or association): its context lists one live
 * association (or application instance) per event that added it, up to limits.maxEntityEvents (default 10,000), each of
 * ids of at most 256 characters (domain/ids.ts), so under 6 MB at that bound. Other reads of an entity or its state
 * take MAX_LISTING_BYTES: the operator may raise limits.maxEntityEvents up to 10,000,000 (review 129).
 */
export const MAX_ENTITY_BYTES = 8 * 1024 * 1024;
/**
 * Listings and bundles, legitimately large: an entity page or timeline without `limit` is every entry (up to
 * limits.maxEntityEvents, default 10,000, or 100,000 items of answers.ts), compliance answers up to 10,000 rows, a replay
 * 10,000 findings, an inclusion proof one event (of data up to the server's body limit, at most 64 MiB), and an
 * evidence bundle every event of one entity (up to limits.maxEntityEvents, a credential's too: each association adds
 * one) with its proof, the most `credence verify FILE` reads back (bin/files.ts FILE_LIMITS.bundle).
 */
export const MAX_LISTING_BYTES = DEFAULT_MAX_RESPONSE_BYTES;

/** The `credence-events-behind` header: a whole number, or absent (a server before it). */
const EventsBehindHeader = z.string().regex(/^\d{1,15}$/).transform(Number).optional();
/**
 * A typed client of the operator side of API v1 (commands, entities, compliance, replay, projections,
 * transparency, tokens), over `request`: a refusal is a `ProblemResponse`, an unreachable server
 * `ServerUnreachable` (`ServerTimeout` past the timeout). Every body read is parsed with zod here, at the boundary
 * (adapters/client/answers.ts): one of another shape is an `UnexpectedResponse` naming the field. Positions and
 * other bigints arrive as decimal strings and stay strings.
 */

/** POST /v1/commands: the actor is the caller's token, never the body. */
export interface CommandRequest {
  readonly type: string;
  readonly data: unknown;
  readonly commandId?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly signature?: unknown;
}

const Position = z.union([PositionString, z.number().int().nonnegative()]).transform(String);

/** Ids, names and instants in answers: bounded (SER-001), far above any real one. */
const Short = z.string().max(300);

export const RecordedEventJson = z.looseObject({
  type: Short,
  streamId: Short.optional(),
  position: Position,
  revision: Position.optional(),
});

/** What the server answers to a command: the engine's outcome (201 appended, 200 a command id seen before). */
export const CommandOutcomeJson = z.looseObject({
  commandId: Short,
  streamId: Short,
  state: Short,
  deduplicated: z.boolean().default(false),
  events: z.array(RecordedEventJson).max(10_000),
});
export type CommandOutcomeJson = z.infer<typeof CommandOutcomeJson>;

export const PseudonymRotationJson = z.looseObject({ nodeId: z.string(), epoch: z.number().int().nonnegative(), deduplicated: z.boolean() });
export type PseudonymRotationJson = z.infer<typeof PseudonymRotationJson>;
export const PseudonymResolutionJson = z.looseObject({
  pseudonym: z.string(),
  nodeId: z.string(),
  epoch: z.number().int().nonnegative(),
  position: z.string().regex(/^\d+$/).optional(),
});
export type PseudonymResolutionJson = z.infer<typeof PseudonymResolutionJson>;

/**
 * Token ids and a page's cursor are read in the forms the service makes them (TokenId, the cursor `--after` takes):
 * the CLI pastes them into the commands it tells the operator to run (`revoke with credence token revoke …`, `more:
 * credence token list --after …`), so an answer holding anything else (`x; touch /tmp/pwned #`, review 431) is one of
 * another shape, an UnexpectedResponse.
 */
export const IssuedTokenJson = z.looseObject({
  token: z.string().min(1).max(8_192),
  tokenId: TokenId,
  subject: Short,
  role: Short,
  expiresAt: Short,
});
export type IssuedTokenJson = z.infer<typeof IssuedTokenJson>;

/** What is known of an issued token, never the token itself. */
export const TokenSummaryJson = z.looseObject({
  tokenId: TokenId,
  subject: Short,
  // Absent on a row whose record does not read (`recordDamaged`, review 90): listed all the same, to be revoked.
  role: Short.optional(),
  issuedAt: Short.optional(),
  expiresAt: Short.optional(),
  issuedBy: Short.optional(),
  revokedAt: Short.optional(),
  state: Short,
});
export type TokenSummaryJson = z.infer<typeof TokenSummaryJson>;
const TokenPageJson = z.looseObject({ tokens: z.array(TokenSummaryJson).max(10_000), next: tokenPageCursor().optional() });
export type TokenPageJson = z.infer<typeof TokenPageJson>;

/** DELETE /v1/tokens/{tokenId}'s 200: the token was revoked already (review 186); a fresh revocation is 204 alone. */
const TokenRevokedAlreadyJson = z.looseObject({
  tokenId: Short.min(1),
  revokedBefore: Short.optional(),
  chained: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

/** What a revocation found: revoked now, or revoked already (when, and how many live tokens down its chain it ended now). */
export type TokenRevocation = { readonly already: false } | { readonly already: true; readonly revokedBefore?: string; readonly chained: number };

/** A 2xx body of `schema`, or an `UnexpectedResponse` naming the first field that is not (a server of another version, or not a Credence server). */
const parseBody = <S extends z.ZodType>(schema: S, body: unknown, what: string): z.infer<S> => {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UnexpectedResponse(what, issue === undefined ? 'not the documented shape' : `${issue.path.join('.') || 'body'}: ${issue.message}`);
};

/** A query string of the parameters that are set. */
const query = (params: Readonly<Record<string, string | undefined>>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, value);
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
};

/**
 * One path segment, percent-encoded. `.`, `..` and an empty segment are refused, a programming mistake naming the
 * argument: encodeURIComponent leaves dots as they are and a URL resolves such a segment, so `entity('node', '..')`
 * asked GET /v1/entities/ (review 218). Encoding the dots would not do: `%2E%2E` is a dot segment too (WHATWG URL,
 * path state). The CLI refuses such ids before this.
 */
const segment = (value: string, name: string): string => {
  if (value === '' || value === '.' || value === '..') throw new TypeError(`${name}: ${JSON.stringify(value)} is not a path segment (empty, . or ..)`);
  return encodeURIComponent(value);
};
const entityPath = (kind: string, id: string): string => `/v1/entities/${segment(kind, 'kind')}/${segment(id, 'id')}`;

export interface OperatorClient {
  readonly baseUrl: string;
  /** The outcome and whether it was appended now (201) or an idempotent replay of a seen command id (200). */
  command(body: CommandRequest): Promise<{ readonly status: number; readonly outcome: CommandOutcomeJson; readonly body: unknown }>;
  entities(filter: { kind?: string; state?: string; limit?: number; cursor?: string }): Promise<EntityPageJson>;
  /** Read up to `maxResponseBytes` (MAX_LISTING_BYTES unless given: a device command gives MAX_ENTITY_BYTES). */
  entity(kind: string, id: string, maxResponseBytes?: number): Promise<EntityJson>;
  timeline(kind: string, id: string): Promise<TimelineJson>;
  /** `at` omitted: now, by the server's clock. */
  stateAt(kind: string, id: string, at?: string): Promise<StateAtJson>;
  /** The query catalog, as the server describes it (not read by this client). */
  complianceCatalog(): Promise<unknown>;
  compliance(name: string, params: Readonly<Record<string, string | undefined>>): Promise<ComplianceAnswerJson>;
  /** The same rows as CSV text. */
  /** The same rows as CSV, with what the `credence-events-behind` header said (undefined from a server without it). */
  complianceCsv(
    name: string,
    params: Readonly<Record<string, string | undefined>>,
  ): Promise<{
    readonly csv: string;
    readonly eventsBehind: number | undefined;
    /** The `credence-events-behind-at-least` header said the count stopped at its limit: at least that many (review 413). */
    readonly eventsBehindAtLeast: true | undefined;
    readonly truncated: boolean | undefined;
    readonly nextAfter: string | undefined;
  }>;
  /** `full`: verify every stored event again, not only those after the server's replay checkpoint. */
  replay(options?: { readonly full?: boolean }): Promise<FleetReplayJson>;
  replayEntity(kind: string, id: string): Promise<EntityReplayJson>;
  projections(): Promise<ProjectionStatusJson>;
  /** The latest signed checkpoint, a C2SP signed note (text). */
  checkpoint(): Promise<string>;
  /** An event, its inclusion proof and checkpoint, for the caller to verify (domain/transparency parses them). */
  inclusionProof(params: Readonly<Record<string, string | undefined>>): Promise<unknown>;
  /** The proof that the tree of size `to` (default: the latest checkpoint) extends the tree of size `from`, with both notes. */
  consistencyProof(from: string, to?: string): Promise<ConsistencyAnswerJson>;
  /** An evidence bundle, for the caller to verify (verifyEvidenceBundle parses it). */
  evidence(kind: string, id: string): Promise<unknown>;
  /** An on-demand pseudonym rotation (POST /v1/pseudonyms/rotations): the server derives and records the pseudonym. */
  rotatePseudonym(body: { nodeId: string; commandId?: string; signature?: unknown }): Promise<PseudonymRotationJson>;
  /** POST /v1/pseudonyms/resolutions (auditor): recorded, then the node behind the pseudonym. */
  resolvePseudonym(body: { pseudonym: string; reason: string; commandId?: string; signature?: unknown }): Promise<PseudonymResolutionJson>;
  issueToken(body: { subject: string; role: string; ttl: string | number }): Promise<IssuedTokenJson>;
  /** One page of issued tokens (`next` continues); expired ones only with `includeExpired`. */
  listTokens(page?: { limit?: number; after?: string; includeExpired?: boolean }): Promise<TokenPageJson>;
  /**
   * Resolves only on the route's own answers: 204 (revoked now) or 200 naming this token (revoked already); any other
   * answer is a `ProblemResponse` or an `UnexpectedResponse`.
   */
  revokeToken(tokenId: string): Promise<TokenRevocation>;
}

export interface OperatorClientOptions {
  readonly signal?: AbortSignal;
  /** How long each request may take, the answer included (default: adapters/client/http.ts DEFAULT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

export const operatorClient = (baseUrl: string, token: string, options: OperatorClientOptions = {}): OperatorClient => {
  const send = (path: string, maxResponseBytes: number, more: Partial<RequestOptions> = {}): Promise<HttpResponse> =>
    request(baseUrl, { path, token, maxResponseBytes, ...more, ...options });
  const get = async (path: string, maxResponseBytes: number, accept?: string): Promise<unknown> =>
    (await send(path, maxResponseBytes, accept !== undefined ? { accept } : {})).body;
  /** GET `path`, its body parsed with `schema`; a body of another shape names the route in the error. */
  const read = async <S extends z.ZodType>(schema: S, path: string, route: string, maxResponseBytes: number, accept?: string): Promise<z.infer<S>> =>
    parseBody(schema, await get(path, maxResponseBytes, accept), `GET ${route}`);
  /** POST `body`: the answer may echo the data sent, so it may be that much larger than one answer. */
  const postFor = (path: string, body: unknown): Promise<HttpResponse> =>
    send(path, MAX_ONE_ANSWER_BYTES + Buffer.byteLength(JSON.stringify(body) ?? ''), { method: 'POST', body });
  const post = async (path: string, body: unknown): Promise<unknown> => (await postFor(path, body)).body;
  return {
    baseUrl,
    command: async (body) => {
      const response = await postFor('/v1/commands', body);
      return { status: response.status, outcome: parseBody(CommandOutcomeJson, response.body, 'POST /v1/commands'), body: response.body };
    },
    entities: (filter) =>
      read(
        EntityPageJson,
        `/v1/entities${query({ kind: filter.kind, state: filter.state, limit: filter.limit?.toString(), cursor: filter.cursor })}`,
        '/v1/entities',
        MAX_LISTING_BYTES,
      ),
    entity: (kind, id, maxResponseBytes = MAX_LISTING_BYTES) => read(EntityJson, entityPath(kind, id), '/v1/entities/{kind}/{id}', maxResponseBytes),
    timeline: (kind, id) => read(TimelineJson, `${entityPath(kind, id)}/timeline`, '/v1/entities/{kind}/{id}/timeline', MAX_LISTING_BYTES),
    stateAt: (kind, id, at) => read(StateAtJson, `${entityPath(kind, id)}/state${query({ at })}`, '/v1/entities/{kind}/{id}/state', MAX_LISTING_BYTES),
    complianceCatalog: () => get('/v1/compliance', MAX_ONE_ANSWER_BYTES),
    compliance: (name, params) => read(ComplianceAnswerJson, `/v1/compliance/${segment(name, 'name')}${query(params)}`, `/v1/compliance/${name}`, MAX_LISTING_BYTES),
    complianceCsv: async (name, params) => {
      const response = await send(`/v1/compliance/${segment(name, 'name')}${query(params)}`, MAX_LISTING_BYTES, { accept: 'text/csv' });
      const behind = EventsBehindHeader.safeParse(response.headers.get('credence-events-behind') ?? undefined);
      const truncated = response.headers.get('credence-truncated');
      return {
        csv: parseBody(CsvText, response.body, `GET /v1/compliance/${name} (CSV)`),
        eventsBehind: behind.success ? behind.data : undefined,
        eventsBehindAtLeast: behind.success && response.headers.get('credence-events-behind-at-least') === 'true' ? true : undefined,
        truncated: truncated === 'true' ? true : truncated === 'false' ? false : undefined,
        // A position, tagged with its event (review 199) or not, or a cursor of the query's own order: as the JSON's.
        nextAfter: ((next) => (ResumePointString.safeParse(next).success || POSITION_CURSOR.test(next) || KEYSET_CURSOR.test(next) ? next : undefined))(response.headers.get('credence-next-after') ?? ''),
      };
    },
    replay: (options = {}) => read(FleetReplayJson, `/v1/replay${query({ full: options.full === true ? 'true' : undefined })}`, '/v1/replay', MAX_LISTING_BYTES),
    replayEntity: (kind, id) => read(EntityReplayJson, `/v1/replay/${segment(kind, 'kind')}/${segment(id, 'id')}`, '/v1/replay/{kind}/{id}', MAX_LISTING_BYTES),
    projections: () => read(ProjectionStatusJson, '/v1/projections', '/v1/projections', MAX_ONE_ANSWER_BYTES),
    checkpoint: () => read(CheckpointNote, '/v1/transparency/checkpoint', '/v1/transparency/checkpoint', MAX_ONE_ANSWER_BYTES, 'text/plain'),
    inclusionProof: (params) => get(`/v1/transparency/proofs/inclusion${query(params)}`, MAX_LISTING_BYTES),
    consistencyProof: (from, to) =>
      read(ConsistencyAnswerJson, `/v1/transparency/proofs/consistency${query({ from, to })}`, '/v1/transparency/proofs/consistency', MAX_ONE_ANSWER_BYTES),
    evidence: (kind, id) => get(`/v1/transparency/evidence/${segment(kind, 'kind')}/${segment(id, 'id')}`, MAX_LISTING_BYTES),
    rotatePseudonym: async (body) =>
      parseBody(PseudonymRotationJson, await post('/v1/pseudonyms/rotations', body), 'POST /v1/pseudonyms/rotations'),
    resolvePseudonym: async (body) =>
      parseBody(PseudonymResolutionJson, await post('/v1/pseudonyms/resolutions', body), 'POST /v1/pseudonyms/resolutions'),
    issueToken: async (body) => parseBody(IssuedTokenJson, await post('/v1/tokens', body), 'POST /v1/tokens'),
    listTokens: async (page = {}) =>
      parseBody(
        TokenPageJson,
        await get(`/v1/tokens${query({ limit: page.limit?.toString(), after: page.after, includeExpired: page.includeExpired === true ? 'true' : undefined })}`, MAX_LISTING_BYTES),
        'GET /v1/tokens',
      ),
    revokeToken: async (tokenId) => {
      const response = await send(`/v1/tokens/${segment(tokenId, 'tokenId')}`, MAX_ONE_ANSWER_BYTES, { method: 'DELETE' });
      // Only the route's own answer says the token is revoked: a 200 from something in front of the server (a proxy's
      // page, a login form) revoked nothing, and `token revoke` must not report a token still valid as revoked.
      if (response.status === 204) return { already: false };
      // A 200 is the route's only when its body says this token was revoked already (a server before review 186 never sent one).
      const already = response.status === 200 ? TokenRevokedAlreadyJson.safeParse(response.body) : undefined;
      if (already?.success !== true || already.data.tokenId !== tokenId) {
        throw new UnexpectedResponse('DELETE /v1/tokens/{tokenId}', `status ${response.status}, not 204 (revoked)`);
      }
      const { revokedBefore, chained } = already.data;
      return { already: true, ...(revokedBefore !== undefined ? { revokedBefore } : {}), chained };
    },
  };
};
