import type { FastifyRequest } from 'fastify';

/**
 * The media types a request body may have on the route `request` reached: the route schema's `consumes` (the OCSP
 * POST declares application/ocsp-request), else JSON, the only other body parser. What a 415 names: a fixed "send
 * application/json" misled an OCSP client (review 60).
 */
export const routeMediaTypes = (request: FastifyRequest): readonly string[] => {
  const consumes = (request.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes;
  return Array.isArray(consumes) && consumes.length > 0 ? consumes.map(String) : ['application/json'];
};
