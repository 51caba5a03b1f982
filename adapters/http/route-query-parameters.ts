import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

/** What a request no route matched takes (a 404, a URL the router refused): no parameter, so its log keeps no value. */
export const NO_QUERY_PARAMETERS: ReadonlySet<string> = new Set();

const namesOfQuery = new WeakMap<z.ZodObject, ReadonlySet<string>>();

/**
 * The query parameters a request's route takes: the names of its `querystring` schema, the schema the OpenAPI
 * document is generated from (test/http-logs-keep-query-values-of-the-services-own-parameters-only.test.ts checks
 * LOGGED_QUERY_PARAMETERS against that document). A log line keeps a value only under one of these names: an
 * identifier parameter takes any printable ASCII, so `/healthz?subscription=<token>` or a 404's `?actor=<token>` was
 * logged as it came (review 52). Fastify creates a request once it has routed it, so its route is known by its first
 * log line; a route without a `querystring` (the probes, the console, the docs) takes none.
 */
export const queryParametersOf = (request: FastifyRequest): ReadonlySet<string> => {
  const { url, schema } = request.routeOptions;
  const query: unknown = schema?.querystring;
  if (url === undefined || !(query instanceof z.ZodObject)) return NO_QUERY_PARAMETERS;
  let names = namesOfQuery.get(query);
  if (names === undefined) {
    names = new Set(Object.keys(query.shape));
    namesOfQuery.set(query, names);
  }
  return names;
};
