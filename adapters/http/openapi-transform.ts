import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { RouteAccess } from './context.ts';
import { withNewCommandIdPattern } from './openapi-command-id.ts';
import { OCSP_CACHING, OCSP_NEVER_ANSWERED } from './openapi-ocsp-caching.ts';
import { REQUEST_ID_PARAMETER, REQUEST_ID_PARAMETER_NAME } from './request-id.ts';
import { headersOfEveryAnswer } from './response-headers.ts';

/**
 * What the OpenAPI document says beyond what fastify-type-provider-zod renders from the routes' zod schemas: an
 * operationId on every operation, the response headers a route declares (the type provider keeps only a response's
 * description and content) and those the service's hooks put on every answer, what each success answer is, a
 * wildcard's parameter under a name, the X-Request-ID every route takes, no status an OCSP route never answers, and no
 * component schema that no operation reaches.
 */

type Responses = Record<string, Record<string, unknown>>;

/**
 * What each success of the API answers, where the route's response schema has no description of its own (@fastify/swagger
 * says "Default Response"): most are shared components, whose own description says what they are, not what this
 * answer means (a 200 of a command is a replayed outcome, its 201 a recorded one).
 */
const SUCCESS: Readonly<Record<string, string>> = {
  'GET /healthz 200': 'Alive: the process serves requests',
  'GET /readyz 200': 'Ready: the store is reachable and the projection lag under the bound, with the lag',
  'POST /v1/tokens 201': 'Issued: the token (shown this once) and what it grants',
  'GET /v1/tokens 200': 'A page of the issued tokens (never the tokens themselves); `next` continues',
  'POST /v1/commands 201': 'Recorded: the events the command appended, with their positions',
  'POST /v1/commands 200': 'Deduplicated: `commandId` was seen before, and its first outcome is replayed; nothing appended',
  'POST /v1/pseudonyms/rotations 201': "Recorded: the node's pseudonym rotated to a new epoch",
  'POST /v1/pseudonyms/rotations 200': 'Deduplicated: `commandId` was seen before; the epoch that rotation recorded, nothing appended',
  'POST /v1/pseudonyms/resolutions 200': 'Recorded: the node behind the pseudonym and the epoch it carried it in (the same `commandId` again: the first resolution)',
  'GET /v1/entities 200': 'A page of entities of the read model, in stream-id order; `nextCursor` continues',
  'GET /v1/entities/:kind/:id 200': 'The entity as its machine sees it now',
  'GET /v1/entities/:kind/:id/timeline 200': "The entity's events in stream order, each with who, which command and why; `nextAfter` continues a page",
  'GET /v1/entities/:kind/:id/state 200': 'The entity as it stood at `at`: its events to then replayed, the state and the verdict',
  'GET /v1/entities/counts 200': 'How many entities of each kind are in each state, as of `position`',
  'GET /v1/entities/:kind/:id/dependents 200': 'The root and what its revocation cascades to, each with its state; `truncated` past `limit`',
  'GET /v1/compliance 200': 'Each named query with what it answers and the parameters it takes',
  'GET /v1/replay 200': "The fleet's replay verdict: counts per kind and state, and every stored transition a machine refuses",
  'GET /v1/replay/:kind/:id 200': "The entity's replay: the state after each stored event, and any its machine refuses",
  'GET /v1/projections 200': 'Each component that follows the store: its position, lag and any error it retries past',
  'GET /v1/transparency/proofs/inclusion 200': 'The event, its RFC 9162 inclusion proof and the signed checkpoint it is against',
  'GET /v1/transparency/proofs/consistency 200': 'The RFC 9162 proof that the tree of size `to` extends the tree of size `from`',
  'GET /v1/transparency/evidence/:kind/:id 200': "The entity's evidence bundle: its events with their inclusion proofs and the log's signed stream head",
  'GET /v1/enrolment 200': "The Enrolment Function's id and public key",
  'POST /v1/enrolment/hello 200': 'The signed challenge',
  'POST /v1/enrolment/auth 200': 'The delivery: the credential and its service parameters, signed',
  'POST /v1/enrolment/receipt 201': 'Recorded: CredentialIssued and CredentialProvisioned, the receipt with them',
  'GET /v1/registrar 200': "The Registrar CSE's id and public key",
  'POST /v1/registrar/associations/:associationId/hello 200': 'The signed challenge (a decoy of the same shape for a credential that cannot be used)',
  'POST /v1/registrar/associations/:associationId/finish 201': 'Recorded: AssociationEstablished; the signed confirm with the granted lifetime',
};

/**
 * Readable names for the wildcards of routes: Fastify names a wildcard `*`, valid OpenAPI but no identifier a client
 * generator can use. Only the document says the name; the router matches the same paths (a documented `{request}`
 * filled in encoded, `/` as `%2F`, is one segment the wildcard takes whole and decodes).
 */
export const WILDCARD_NAMES: Readonly<Record<string, string>> = {
  '/pki/:caId/ocsp/*': 'request',
};

const words = (segment: string): string =>
  segment
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => `${w[0]!.toUpperCase()}${w.slice(1)}`)
    .join('');

/**
 * `getV1EntitiesByKindByIdTimeline` for `GET /v1/entities/:kind/:id/timeline`: from the method and the path alone, so
 * a client's method names change only when the route does; unique because method and path are.
 */
export const operationIdOf = (method: string, url: string): string =>
  method.toLowerCase() +
  url
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => (s === '*' ? 'ByRest' : s.startsWith(':') ? `By${words(s.slice(1))}` : words(s)))
    .join('');

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * A documented response with the headers every answer of its status carries, the route's declared ones over them (and
 * the OCSP responder's caching over those), and a success's description, in a form @fastify/swagger reads.
 */
const documented = (
  rendered: Record<string, unknown>,
  declared: unknown,
  common: Record<string, unknown>,
  success: string | undefined,
  caching: Record<string, unknown> = {},
): Record<string, unknown> => {
  // A route's headers: on a response object it declares, or in the meta of a bodiless response's schema (rendered).
  const own = isPlainObject(declared) && isPlainObject(declared['headers']) ? declared['headers'] : {};
  const headers = { ...common, ...(isPlainObject(rendered['headers']) ? rendered['headers'] : {}), ...own, ...caching };
  // A bare schema (inline or a component's $ref) keeps the route's own description; a content map has its own already.
  const description = typeof rendered['description'] === 'string' ? rendered['description'] : success;
  const extra = { ...(description !== undefined ? { description } : {}), ...(Object.keys(headers).length > 0 ? { headers } : {}) };
  if (isPlainObject(rendered['content']) || rendered['type'] === 'null') return { ...rendered, ...extra };
  return { content: { 'application/json': { schema: rendered } }, ...extra };
};

/** `url` with its wildcard named, and `params` (a JSON Schema object) with the wildcard's property renamed to match. */
const namedWildcard = (url: string, params: unknown): { url: string; params: unknown } => {
  const name = WILDCARD_NAMES[url];
  if (name === undefined || !isPlainObject(params) || !isPlainObject(params['properties'])) return { url, params };
  const { '*': wildcard, ...others } = params['properties'];
  const required = Array.isArray(params['required']) ? params['required'].map((p: unknown) => (p === '*' ? name : p)) : params['required'];
  return { url: `${url.slice(0, -1)}:${name}`, params: { ...params, properties: { ...others, [name]: wildcard }, ...(required !== undefined ? { required } : {}) } };
};

export const documentTransform: SwaggerTransform = (input) => {
  const rendered = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  const schema = rendered.schema as Record<string, unknown> & { hide?: boolean; response?: Responses };
  if (schema.hide === true) return rendered;
  const method = Array.isArray(input.route.method) ? input.route.method.join('') : String(input.route.method);
  const config = input.route.config as { access?: RouteAccess; rateLimit?: unknown } | undefined;
  const declared = ((input.schema as { response?: Record<string, unknown> }).response ?? {}) as Record<string, unknown>;
  const never = OCSP_NEVER_ANSWERED[`${method} ${input.url}`];
  const response = Object.fromEntries(
    Object.entries(schema.response ?? {})
      .filter(([code]) => never?.has(code) !== true)
      .map(([code, answer]) => [
        code,
        documented(
          answer,
          declared[code],
          headersOfEveryAnswer(code, config?.access, config?.rateLimit !== false),
          code.startsWith('2') ? SUCCESS[`${method} ${input.url} ${code}`] : undefined,
          OCSP_CACHING[`${method} ${input.url} ${code}`],
        ),
      ]),
  );
  const { url, params } = namedWildcard(input.url, schema['params']);
  // A route may name its own operationId; the derived one otherwise.
  return {
    url: url === input.url ? rendered.url : url,
    schema: {
      operationId: operationIdOf(method, url),
      ...schema,
      ...(params !== undefined ? { params } : {}),
      // A new command's id as the service takes it, not as its schema parses a stored one (openapi-command-id.ts).
      ...(schema['body'] !== undefined ? { body: withNewCommandIdPattern(schema['body']) } : {}),
      ...(schema.response !== undefined ? { response } : {}),
    },
  };
};

const COMPONENT = '#/components/schemas/';

/** The component names `value` refers to, and those they refer to in turn. */
const reached = (value: unknown, schemas: Readonly<Record<string, unknown>>, found = new Set<string>()): Set<string> => {
  if (Array.isArray(value)) for (const item of value) reached(item, schemas, found);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(COMPONENT)) {
        const name = child.slice(COMPONENT.length);
        if (!found.has(name)) {
          found.add(name);
          reached(schemas[name], schemas, found);
        }
      } else reached(child, schemas, found);
    }
  }
  return found;
};

type Paths = Record<string, Record<string, Record<string, unknown> & { parameters?: unknown[] }>>;

/** Every operation of `paths` taking X-Request-ID too, by reference: the hook that reads it is the service's, not a route's. */
const withRequestId = (paths: Paths): Paths => {
  const parameter = { $ref: `#/components/parameters/${REQUEST_ID_PARAMETER_NAME}` };
  return Object.fromEntries(
    Object.entries(paths).map(([path, item]) => [
      path,
      Object.fromEntries(Object.entries(item).map(([method, operation]) => [method, { ...operation, parameters: [...(operation.parameters ?? []), parameter] }])),
    ]),
  );
};

/** A position's pattern (domain/positions.ts), and a resume point's (a position, then `~` and an 8-hex-digit tag). */
const POSITION_PATTERNS: Readonly<Record<string, number>> = {
  '^(?:0|[1-9][0-9]*)$': 19,
  '^(?:0|[1-9][0-9]*(?:~[0-9a-f]{8})?)$': 28,
};

/** `schema` with each position's length bound stated, in it and in its `anyOf`/`oneOf`/`allOf` branches. */
const positionBounded = (schema: unknown): unknown => {
  if (!isPlainObject(schema)) return schema;
  const bound = typeof schema['pattern'] === 'string' ? POSITION_PATTERNS[schema['pattern']] : undefined;
  const branches = Object.fromEntries(
    ['anyOf', 'oneOf', 'allOf'].filter((key) => Array.isArray(schema[key])).map((key) => [key, (schema[key] as unknown[]).map(positionBounded)]),
  );
  return { ...schema, ...branches, ...(bound !== undefined && schema['maxLength'] === undefined ? { maxLength: bound } : {}) };
};

/**
 * A position parameter (query, header, path) with the length of the largest the service takes (review 432): its
 * pattern takes digits of any length, so that one past 2^63 - 1 is refused 400 `position_range` rather than as of
 * another form (domain/positions.ts); the document says no more than 19 digits (28 with a resume point's tag), which
 * is also true of each the service takes. Documentation only: what is refused, and how, is unchanged.
 */
const withPositionBounds = (paths: Paths): Paths =>
  Object.fromEntries(
    Object.entries(paths).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item).map(([method, operation]) => [
          method,
          operation.parameters === undefined
            ? operation
            : {
                ...operation,
                parameters: operation.parameters.map((parameter) =>
                  isPlainObject(parameter) && parameter['schema'] !== undefined ? { ...parameter, schema: positionBounded(parameter['schema']) } : parameter,
                ),
              },
        ]),
      ),
    ]),
  );

/**
 * The type provider writes every registered schema twice, as read (`ProblemInput`) and as written (`Problem`); a
 * client generator makes a type of each, so those no operation reaches (the input forms of response-only schemas)
 * are left out.
 */
export const documentObject: SwaggerTransformObject = (input) => {
  // An OpenAPI 3.1 document: the service registers swagger with `openapi` only (server.ts).
  const document = jsonSchemaTransformObject(input) as { paths?: Paths; components?: { schemas?: Record<string, unknown>; parameters?: Record<string, unknown> } };
  const schemas = document.components?.schemas ?? {};
  const used = reached(document.paths, schemas);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  const parameters = { ...document.components?.parameters, [REQUEST_ID_PARAMETER_NAME]: REQUEST_ID_PARAMETER };
  return {
    ...document,
    paths: withRequestId(withPositionBounds(document.paths ?? {})),
    components: { ...document.components, schemas: kept, parameters },
  } as ReturnType<SwaggerTransformObject>;
};
