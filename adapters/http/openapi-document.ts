import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './context.ts';

/** Answers a request for the OpenAPI document: 200 with it, or 304 to a client that holds it. */
export type SendOpenApiDocument = (request: FastifyRequest, reply: FastifyReply) => FastifyReply;

/**
 * The document changes only with the service's version, at no time a cache can know: a cache keeps it but asks each
 * time (`no-cache`), and the ETag makes the asking a 304 with no body. A longer max-age would serve the old document
 * for that long after an upgrade.
 */
const CACHE_CONTROL = 'public, no-cache';

/** RFC 9110 13.1.2: If-None-Match compares weakly (`W/"x"` matches `"x"`), and `*` matches any current document. */
const holdsTag = (ifNoneMatch: string | undefined, etag: string): boolean =>
  ifNoneMatch !== undefined &&
  ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });

/**
 * The OpenAPI document serialised once, as the service is ready, and served from that text with a strong ETag (a hash
 * of it). Serialised at each request, its 428 KB took 5 ms of CPU each: twenty requests a second from one address
 * took a tenth of the event loop (review 199, SER-001).
 */
export const servedOpenApiDocument = (app: App): SendOpenApiDocument => {
  let served: { readonly body: string; readonly etag: string } | undefined;
  const serialise = (): { readonly body: string; readonly etag: string } => {
    const body = JSON.stringify(app.swagger());
    return { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
  };
  // Every route is registered by then, and no request has come yet (listen waits for ready). A document that cannot be
  // built (a route module registered without a schema, as tests' own may be) fails its requests, as it did, not the
  // start: the request below builds it again and its error is answered.
  app.addHook('onReady', async () => {
    try {
      served = serialise();
    } catch (error) {
      app.log.warn({ err: error }, 'the OpenAPI document could not be built: GET /openapi.json will answer 500');
    }
  });
  return (request, reply) => {
    served ??= serialise();
    reply.header('etag', served.etag).header('cache-control', CACHE_CONTROL);
    if (holdsTag(request.headers['if-none-match'], served.etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(served.body);
  };
};
