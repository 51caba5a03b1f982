import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FieldIssue } from '../../domain/errors.ts';
import { queryParametersOf } from './route-query-parameters.ts';

/** The rule of a parameter that takes one value, sent more than once. */
export const REPEATED_RULE = 'repeated';

const takesRepeatsCache = new WeakMap<z.ZodType, boolean>();

/** Whether a JSON Schema admits an array: its own `type`, or one branch of a union. */
const admitsArray = (schema: unknown): boolean => {
  if (typeof schema !== 'object' || schema === null) return false;
  const { type, anyOf, oneOf } = schema as { type?: unknown; anyOf?: unknown; oneOf?: unknown };
  if (type === 'array' || (Array.isArray(type) && type.includes('array'))) return true;
  return [anyOf, oneOf].some((branches) => Array.isArray(branches) && branches.some(admitsArray));
};

/**
 * Whether a route's schema of one parameter takes it repeated (`?kind=node&kind=credential`, a list): what it accepts
 * as input, as the OpenAPI document states it, admits an array. Read from the schema rather than listed by name: `kind`
 * is a list on GET /v1/events and one value on GET /v1/entities.
 */
const takesRepeats = (field: z.ZodType): boolean => {
  let known = takesRepeatsCache.get(field);
  if (known === undefined) {
    known = admitsArray(z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }));
    takesRepeatsCache.set(field, known);
  }
  return known;
};

/**
 * A parameter the route takes once, sent more than once, is refused as that (rule `repeated`), on every route alike.
 * The query string parser reads `a=1&a=2` as a list, and each route's schema then refused the list in its own words
 * (review 199: `?kind=node&kind=node` on /v1/entities was `invalid_value` "expected one of node|…", `node` being one;
 * `?limit=5&limit=5` was `invalid_type` elsewhere). Taking the first or the last instead would answer a question
 * other than the one a client or a proxy in between may have meant. Never the value: only the name, one the route takes.
 */
export const repeatedParameters = (request: FastifyRequest): FieldIssue[] => {
  const schema: unknown = request.routeOptions.schema?.querystring;
  if (!(schema instanceof z.ZodObject)) return [];
  const taken = queryParametersOf(request);
  const query = request.query as Record<string, unknown>;
  return Object.keys(query)
    .filter((name) => Array.isArray(query[name]) && taken.has(name) && !takesRepeats(schema.shape[name] as z.ZodType))
    .map((name) => ({ path: `query.${name}`, rule: REPEATED_RULE, message: 'sent more than once: send it once, it takes one value' }));
};
