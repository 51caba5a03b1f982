import { z } from 'zod';
import { request, type HttpResponse } from './http.ts';

/**
 * A typed client of the operator side of API v1 (commands, entities, compliance, replay, projections,
 * transparency, tokens), over `request`: a refusal is a `ProblemResponse`, an unreachable server
 * `ServerUnreachable`. Bodies the CLI relies on are parsed with zod here, at the boundary; positions and other
 * bigints arrive as decimal strings and stay strings.
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

const Position = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

export const RecordedEventJson = z.looseObject({
  type: z.string(),
  streamId: z.string().optional(),
  position: Position,
  revision: Position.optional(),
});

/** What the server answers to a command: the engine's outcome (201 appended, 200 a command id seen before). */
export const CommandOutcomeJson = z.looseObject({
  commandId: z.string(),
  streamId: z.string(),
  state: z.string(),
  deduplicated: z.boolean().default(false),
  events: z.array(RecordedEventJson),
});
export type CommandOutcomeJson = z.infer<typeof CommandOutcomeJson>;

export const IssuedTokenJson = z.looseObject({
  token: z.string().min(1),
  tokenId: z.string().min(1),
  subject: z.string(),
  role: z.string(),
  expiresAt: z.string(),
});
export type IssuedTokenJson = z.infer<typeof IssuedTokenJson>;

/** What is known of an issued token, never the token itself. */
export const TokenSummaryJson = z.looseObject({
  tokenId: z.string(),
  subject: z.string(),
  role: z.string(),
  issuedAt: z.string().optional(),
  expiresAt: z.string(),
  issuedBy: z.string().optional(),
  revokedAt: z.string().optional(),
  state: z.string(),
});
export type TokenSummaryJson = z.infer<typeof TokenSummaryJson>;
const TokenPageJson = z.looseObject({ tokens: z.array(TokenSummaryJson), next: z.string().optional() });
export type TokenPageJson = z.infer<typeof TokenPageJson>;

/** A 2xx answer whose body is not what this client reads: a server of another version, or not a Credence server. */
export class UnexpectedResponse extends Error {
  constructor(readonly what: string, error: z.ZodError) {
    const issue = error.issues[0];
    super(`the answer to ${what} is not what this client expects${issue !== undefined ? ` (${issue.path.join('.') || 'body'}: ${issue.message})` : ''}`);
    this.name = 'UnexpectedResponse';
  }
}

const parseBody = <S extends z.ZodType>(schema: S, body: unknown, what: string): z.infer<S> => {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new UnexpectedResponse(what, parsed.error);
  return parsed.data;
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
  entities(filter: { kind?: string; state?: string; limit?: number; cursor?: string }): Promise<unknown>;
  entity(kind: string, id: string): Promise<unknown>;
  timeline(kind: string, id: string): Promise<unknown>;
  stateAt(kind: string, id: string, at: string): Promise<unknown>;
  complianceCatalog(): Promise<unknown>;
  /** JSON rows, or the CSV text with `csv`. */
  compliance(name: string, params: Readonly<Record<string, string | undefined>>, options?: { csv?: boolean }): Promise<unknown>;
  replay(): Promise<unknown>;
  replayEntity(kind: string, id: string): Promise<unknown>;
  projections(): Promise<unknown>;
  /** The latest signed checkpoint, a C2SP signed note (text). */
  checkpoint(): Promise<string>;
  inclusionProof(params: Readonly<Record<string, string | undefined>>): Promise<unknown>;
  /** The proof that the tree of size `to` (default: the latest checkpoint) extends the tree of size `from`, with both notes. */
  consistencyProof(from: string, to?: string): Promise<unknown>;
  evidence(kind: string, id: string): Promise<unknown>;
  issueToken(body: { subject: string; role: string; ttl: string | number }): Promise<IssuedTokenJson>;
  /** One page of issued tokens (`next` continues); expired ones only with `includeExpired`. */
  listTokens(page?: { limit?: number; after?: string; includeExpired?: boolean }): Promise<TokenPageJson>;
  revokeToken(tokenId: string): Promise<void>;
}

export const operatorClient = (baseUrl: string, token: string, options: { signal?: AbortSignal } = {}): OperatorClient => {
  const get = async <T = unknown>(path: string, accept?: string): Promise<T> =>
    (await request<T>(baseUrl, { path, token, ...(accept !== undefined ? { accept } : {}), ...options })).body;
  return {
    baseUrl,
    command: async (body) => {
      const response: HttpResponse = await request(baseUrl, { method: 'POST', path: '/v1/commands', token, body, ...options });
      return { status: response.status, outcome: parseBody(CommandOutcomeJson, response.body, 'POST /v1/commands'), body: response.body };
    },
    entities: (filter) =>
      get(`/v1/entities${query({ kind: filter.kind, state: filter.state, limit: filter.limit?.toString(), cursor: filter.cursor })}`),
    entity: (kind, id) => get(entityPath(kind, id)),
    timeline: (kind, id) => get(`${entityPath(kind, id)}/timeline`),
    stateAt: (kind, id, at) => get(`${entityPath(kind, id)}/state${query({ at })}`),
    complianceCatalog: () => get('/v1/compliance'),
    compliance: (name, params, o = {}) => get(`/v1/compliance/${segment(name)}${query(params)}`, o.csv === true ? 'text/csv' : undefined),
    replay: () => get('/v1/replay'),
    replayEntity: (kind, id) => get(`/v1/replay/${segment(kind)}/${segment(id)}`),
    projections: () => get('/v1/projections'),
    checkpoint: async () => String(await get('/v1/transparency/checkpoint', 'text/plain')),
    inclusionProof: (params) => get(`/v1/transparency/proofs/inclusion${query(params)}`),
    consistencyProof: (from, to) => get(`/v1/transparency/proofs/consistency${query({ from, to })}`),
    evidence: (kind, id) => get(`/v1/transparency/evidence/${segment(kind)}/${segment(id)}`),
    issueToken: async (body) => parseBody(IssuedTokenJson, (await request(baseUrl, { method: 'POST', path: '/v1/tokens', token, body, ...options })).body, 'POST /v1/tokens'),
    listTokens: async (page = {}) =>
      parseBody(
        TokenPageJson,
        await get(`/v1/tokens${query({ limit: page.limit?.toString(), after: page.after, includeExpired: page.includeExpired === true ? 'true' : undefined })}`),
        'GET /v1/tokens',
      ),
    revokeToken: async (tokenId) => {
      await request(baseUrl, { method: 'DELETE', path: `/v1/tokens/${segment(tokenId)}`, token, ...options });
    },
  };
};
