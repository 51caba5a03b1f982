import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * What every answer carries unless its route set its own (the console page sets a stricter set; OCSP, CRLs and CA
 * certificates their own caching): never sniffed as another type, never framed, no referrer, and nothing a bearer
 * token read kept by a cache (OWASP REST Security Cheat Sheet, "Security Headers"; review 34: only the console's own
 * page had them, and an API answer, a problem or /docs could be sniffed or framed by any page a browser showed).
 * The service's onSend hook applies it to every answer Fastify sends; a route that takes the socket over
 * (`reply.hijack()`) applies it before, since onSend never runs for it (review 50: the event stream's head had none).
 */
export const baselineHeaders = (request: FastifyRequest, reply: FastifyReply): void => {
  if (!reply.hasHeader('x-content-type-options')) reply.header('x-content-type-options', 'nosniff');
  if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
  if (!reply.hasHeader('referrer-policy')) reply.header('referrer-policy', 'no-referrer');
  if (request.headers.authorization !== undefined && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
};
