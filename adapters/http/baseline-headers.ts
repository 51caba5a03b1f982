import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The part of the baseline every answer carries whatever the request: never sniffed as another type, never framed, no
 * referrer. Kept apart so that the HTTP parser's refusals, written on the raw socket before there is any request or
 * reply (clientErrorAnswer), carry the same list (review 50's follow-up: they carried none).
 */
export const BASELINE_STATIC_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * What every answer carries unless its route set its own (the console page sets a stricter set; OCSP, CRLs and CA
 * certificates their own caching): the static part above, and nothing a bearer token read kept by a cache (OWASP REST
 * Security Cheat Sheet, "Security Headers"; review 34: only the console's own page had them, and an API answer, a
 * problem or /docs could be sniffed or framed by any page a browser showed).
 * The service's onSend hook applies it to every answer Fastify sends, and so does the probe listener's; a route that
 * takes the socket over (`reply.hijack()`) applies it before, since onSend never runs for it (review 50: the event
 * stream's head had none).
 */
export const baselineHeaders = (request: FastifyRequest, reply: FastifyReply): void => {
  for (const [name, value] of Object.entries(BASELINE_STATIC_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
  if (request.headers.authorization !== undefined && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
};
