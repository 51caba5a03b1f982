import { z } from 'zod';
import { PositionString } from '../../domain/positions.ts';
import {
  CheckpointNote,
  ComplianceAnswerJson,
  ConsistencyAnswerJson,
  CsvText,
  EntityJson,
  EntityPageJson,
  EntityReplayJson,
  FleetReplayJson,
  ProjectionStatusJson,
  StateAtJson,
  TimelineJson,
} from './answers.ts';
import { request, UnexpectedResponse, type HttpResponse } from './http.ts';

export { UnexpectedResponse } from './http.ts';


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

export const IssuedTokenJson = z.looseObject({
  token: z.string().min(1).max(8_192),
  tokenId: Short.min(1),
  subject: Short,
  role: Short,
  expiresAt: Short,
});
export type IssuedTokenJson = z.infer<typeof IssuedTokenJson>;

/** What is known of an issued token, never the token itself. */
export const TokenSummaryJson = z.looseObject({
  tokenId: Short,
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
const TokenPageJson = z.looseObject({ tokens: z.array(TokenSummaryJson).max(10_000), next: Short.optional() });
export type TokenPageJson = z.infer<typeof TokenPageJson>;

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

const segment = encodeURIComponent;
const entityPath = (kind: string, id: string): string => `/v1/entities/${segment(kind)}/${segment(id)}`;

export interface OperatorClient {
  readonly baseUrl: string;
  /** The outcome and whether it was appended now (201) or an idempotent replay of a seen command id (200). */
  command(body: CommandRequest): Promise<{ readonly status: number; readonly outcome: CommandOutcomeJson; readonly body: unknown }>;
  entities(filter: { kind?: string; state?: string; limit?: number; cursor?: string }): Promise<EntityPageJson>;
  entity(kind: string, id: string): Promise<EntityJson>;
  timeline(kind: string, id: string): Promise<TimelineJson>;
  stateAt(kind: string, id: string, at: string): Promise<StateAtJson>;
  /** The query catalog, as the server describes it (not read by this client). */
  complianceCatalog(): Promise<unknown>;
  compliance(name: string, params: Readonly<Record<string, string | undefined>>): Promise<ComplianceAnswerJson>;
  /** The same rows as CSV text. */
  /** The same rows as CSV, with what the `credence-events-behind` header said (undefined from a server without it). */
  complianceCsv(
    name: string,
    params: Readonly<Record<string, string | undefined>>,
  ): Promise<{ readonly csv: string; readonly eventsBehind: number | undefined; readonly truncated: boolean | undefined; readonly nextAfter: string | undefined }>;
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
  rotatePseudonym(body: { nodeId: string; commandId?: string }): Promise<PseudonymRotationJson>;
  /** POST /v1/pseudonyms/resolutions (auditor): recorded, then the node behind the pseudonym. */
  resolvePseudonym(body: { pseudonym: string; reason: string; commandId?: string }): Promise<PseudonymResolutionJson>;
  issueToken(body: { subject: string; role: string; ttl: string | number }): Promise<IssuedTokenJson>;
  /** One page of issued tokens (`next` continues); expired ones only with `includeExpired`. */
  listTokens(page?: { limit?: number; after?: string; includeExpired?: boolean }): Promise<TokenPageJson>;
  /** Resolves only on the route's 204; any other answer is a `ProblemResponse` or an `UnexpectedResponse`. */
  revokeToken(tokenId: string): Promise<void>;
}

export interface OperatorClientOptions {
  readonly signal?: AbortSignal;
  /** How long each request may take, the answer included (default: adapters/client/http.ts DEFAULT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

export const operatorClient = (baseUrl: string, token: string, options: OperatorClientOptions = {}): OperatorClient => {
  const get = async (path: string, accept?: string): Promise<unknown> =>
    (await request(baseUrl, { path, token, ...(accept !== undefined ? { accept } : {}), ...options })).body;
  /** GET `path`, its body parsed with `schema`; a body of another shape names the route in the error. */
  const read = async <S extends z.ZodType>(schema: S, path: string, route: string, accept?: string): Promise<z.infer<S>> =>
    parseBody(schema, await get(path, accept), `GET ${route}`);
  return {
    baseUrl,
    command: async (body) => {
      const response: HttpResponse = await request(baseUrl, { method: 'POST', path: '/v1/commands', token, body, ...options });
      return { status: response.status, outcome: parseBody(CommandOutcomeJson, response.body, 'POST /v1/commands'), body: response.body };
    },
    entities: (filter) =>
      read(
        EntityPageJson,
        `/v1/entities${query({ kind: filter.kind, state: filter.state, limit: filter.limit?.toString(), cursor: filter.cursor })}`,
        '/v1/entities',
      ),
    entity: (kind, id) => read(EntityJson, entityPath(kind, id), '/v1/entities/{kind}/{id}'),
    timeline: (kind, id) => read(TimelineJson, `${entityPath(kind, id)}/timeline`, '/v1/entities/{kind}/{id}/timeline'),
    stateAt: (kind, id, at) => read(StateAtJson, `${entityPath(kind, id)}/state${query({ at })}`, '/v1/entities/{kind}/{id}/state'),
    complianceCatalog: () => get('/v1/compliance'),
    compliance: (name, params) => read(ComplianceAnswerJson, `/v1/compliance/${segment(name)}${query(params)}`, `/v1/compliance/${name}`),
    complianceCsv: async (name, params) => {
      const response = await request(baseUrl, { path: `/v1/compliance/${segment(name)}${query(params)}`, token, accept: 'text/csv', ...options });
      const behind = EventsBehindHeader.safeParse(response.headers.get('credence-events-behind') ?? undefined);
      const truncated = response.headers.get('credence-truncated');
      return {
        csv: parseBody(CsvText, response.body, `GET /v1/compliance/${name} (CSV)`),
        eventsBehind: behind.success ? behind.data : undefined,
        truncated: truncated === 'true' ? true : truncated === 'false' ? false : undefined,
        nextAfter: /^\d{1,19}$/.test(response.headers.get('credence-next-after') ?? '') ? response.headers.get('credence-next-after')! : undefined,
      };
    },
    replay: (options = {}) => read(FleetReplayJson, `/v1/replay${query({ full: options.full === true ? 'true' : undefined })}`, '/v1/replay'),
    replayEntity: (kind, id) => read(EntityReplayJson, `/v1/replay/${segment(kind)}/${segment(id)}`, '/v1/replay/{kind}/{id}'),
    projections: () => read(ProjectionStatusJson, '/v1/projections', '/v1/projections'),
    checkpoint: () => read(CheckpointNote, '/v1/transparency/checkpoint', '/v1/transparency/checkpoint', 'text/plain'),
    inclusionProof: (params) => get(`/v1/transparency/proofs/inclusion${query(params)}`),
    consistencyProof: (from, to) =>
      read(ConsistencyAnswerJson, `/v1/transparency/proofs/consistency${query({ from, to })}`, '/v1/transparency/proofs/consistency'),
    evidence: (kind, id) => get(`/v1/transparency/evidence/${segment(kind)}/${segment(id)}`),
    rotatePseudonym: async (body) =>
      parseBody(PseudonymRotationJson, (await request(baseUrl, { method: 'POST', path: '/v1/pseudonyms/rotations', token, body, ...options })).body, 'POST /v1/pseudonyms/rotations'),
    resolvePseudonym: async (body) =>
      parseBody(PseudonymResolutionJson, (await request(baseUrl, { method: 'POST', path: '/v1/pseudonyms/resolutions', token, body, ...options })).body, 'POST /v1/pseudonyms/resolutions'),
    issueToken: async (body) => parseBody(IssuedTokenJson, (await request(baseUrl, { method: 'POST', path: '/v1/tokens', token, body, ...options })).body, 'POST /v1/tokens'),
    listTokens: async (page = {}) =>
      parseBody(
        TokenPageJson,
        await get(`/v1/tokens${query({ limit: page.limit?.toString(), after: page.after, includeExpired: page.includeExpired === true ? 'true' : undefined })}`),
        'GET /v1/tokens',
      ),
    revokeToken: async (tokenId) => {
      const response = await request(baseUrl, { method: 'DELETE', path: `/v1/tokens/${segment(tokenId)}`, token, ...options });
      // Only the route's own answer says the token is revoked: a 200 from something in front of the server (a proxy's
      // page, a login form) revoked nothing, and `token revoke` must not report a token still valid as revoked.
      if (response.status !== 204) throw new UnexpectedResponse('DELETE /v1/tokens/{tokenId}', `status ${response.status}, not 204 (revoked)`);
    },
  };
};
