import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * What the OpenAPI document says beyond what fastify-type-provider-zod renders from the routes' zod schemas: an
 * operationId on every operation, the response headers a route declares (the type provider keeps only a response's
 * description and content), what a 201 created, and no component schema that no operation reaches.
 */

type Responses = Record<string, Record<string, unknown>>;

/**
 * What each 201 of the API created: the schemas of these answers are shared components, whose own description
 * says what they are, not that this answer recorded them.
 */
const CREATED: Readonly<Record<string, string>> = {
  'POST /v1/tokens': 'Issued: the token (shown this once) and what it grants',
  'POST /v1/commands': 'Recorded: the events the command appended, with their positions',
  'POST /v1/pseudonyms/rotations': "Recorded: the node's pseudonym rotated to a new epoch",
  'POST /v1/enrolment/receipt': 'Recorded: CredentialIssued and CredentialProvisioned, the receipt with them',
  'POST /v1/registrar/associations/:associationId/finish': 'Recorded: AssociationEstablished; the signed confirm with the granted lifetime',
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

/** A documented response with the route's declared headers and a 201's description, in a form @fastify/swagger reads. */
const documented = (rendered: Record<string, unknown>, declared: unknown, created: string | undefined): Record<string, unknown> => {
  const headers = isPlainObject(declared) && isPlainObject(declared['headers']) ? declared['headers'] : undefined;
  if (headers === undefined && created === undefined) return rendered;
  const extra = { ...(created !== undefined ? { description: created } : {}), ...(headers !== undefined ? { headers } : {}) };
  // A content map or an empty body takes them beside it; a bare schema (a component's $ref) is put under JSON first.
  if (isPlainObject(rendered['content']) || rendered['type'] === 'null') return { ...rendered, ...extra };
  return { content: { 'application/json': { schema: rendered } }, ...extra };
};

export const documentTransform: SwaggerTransform = (input) => {
  const rendered = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  const schema = rendered.schema as Record<string, unknown> & { hide?: boolean; response?: Responses };
  if (schema.hide === true) return rendered;
  const method = Array.isArray(input.route.method) ? input.route.method.join('') : String(input.route.method);
  const declared = ((input.schema as { response?: Record<string, unknown> }).response ?? {}) as Record<string, unknown>;
  const response = Object.fromEntries(
    Object.entries(schema.response ?? {}).map(([code, answer]) => [
      code,
      documented(answer, declared[code], code === '201' ? CREATED[`${method} ${input.url}`] : undefined),
    ]),
  );
  // A route may name its own operationId; the derived one otherwise.
  return { url: rendered.url, schema: { operationId: operationIdOf(method, input.url), ...schema, ...(schema.response !== undefined ? { response } : {}) } };
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

/**
 * The type provider writes every registered schema twice, as read (`ProblemInput`) and as written (`Problem`); a
 * client generator makes a type of each, so those no operation reaches (the input forms of response-only schemas)
 * are left out.
 */
export const documentObject: SwaggerTransformObject = (input) => {
  // An OpenAPI 3.1 document: the service registers swagger with `openapi` only (server.ts).
  const document = jsonSchemaTransformObject(input) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } };
  const schemas = document.components?.schemas ?? {};
  const used = reached(document.paths, schemas);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...document, components: { ...document.components, schemas: kept } } as ReturnType<SwaggerTransformObject>;
};
