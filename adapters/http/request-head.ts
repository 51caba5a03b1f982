import type { ServerOptions } from 'node:http';
import type { App } from './context.ts';
import { HttpProblem } from './problems.ts';

/** Node's own headers timeout, kept when `requestTimeoutMs` is 0 (no bound on the whole request). */
const HEADERS_TIMEOUT_WHEN_UNBOUNDED_MS = 60_000;

/** The longest Node waits between checks of its request and headers timeouts (its default, 30 s, is the timeout itself). */
const MAX_TIMEOUT_CHECK_MS = 1_000;

/**
 * Node's HTTP server options of every listener, given as Node builds it (Fastify's `http`).
 *
 * Node answers an HTTP/1.1 request without Host itself, a bare 400 with no body and none of the headers every answer
 * carries (review 135): its check is off, and refuseAmbiguousRequestHeads makes it as a problem.
 *
 * `limits.requestTimeoutMs` bounds the whole request, headers and body. Fastify's own `requestTimeout` is set on the
 * server once built, after Node has read its headers timeout (then 60 s) and started checking both every 30 s: a body
 * trickled a byte every 5 s was cut after 89.7 s under the 30 s default (review 175). Node checks no more often than
 * `connectionsCheckingInterval`, so a quarter of the timeout (at most 1 s) keeps the cut within a quarter of it.
 */
export const nodeHttpOptions = (limits: { readonly requestTimeoutMs: number }): ServerOptions => ({
  requireHostHeader: false,
  requestTimeout: limits.requestTimeoutMs,
  // Node requires headersTimeout <= requestTimeout; the headers are part of the request. 0 turns the whole request's
  // bound off, never the headers' (Node's 60 s stays): a head trickled a byte a minute would hold its slot for good
  // (review 180).
  headersTimeout: limits.requestTimeoutMs === 0 ? HEADERS_TIMEOUT_WHEN_UNBOUNDED_MS : limits.requestTimeoutMs,
  connectionsCheckingInterval: limits.requestTimeoutMs === 0 ? MAX_TIMEOUT_CHECK_MS : Math.max(10, Math.min(MAX_TIMEOUT_CHECK_MS, Math.floor(limits.requestTimeoutMs / 4))),
});

/**
 * Headers of which Node keeps the first of several and drops the rest unseen: a request sending two would be read by
 * whichever one the reader keeps (review 135: `Bearer <operator>` then `Bearer <auditor>` ran as the operator; a body
 * sent `application/json` then `text/plain` was parsed as JSON). RFC 9110 5.3: none of them is a list.
 */
const ONE_EACH = ['authorization', 'content-type', 'host'] as const;

const malformed = (detail: string): HttpProblem => new HttpProblem(400, 'malformed_request', detail, {}, { connection: 'close' });

/** How many times each header of ONE_EACH was sent, as written on the wire (names case-insensitive). */
const countsOf = (rawHeaders: readonly string[]): ReadonlyMap<string, number> => {
  const counts = new Map<string, number>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if ((ONE_EACH as readonly string[]).includes(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
};

/**
 * Refuses, before authentication and before any body is read, a request that sends Authorization, Content-Type or
 * Host more than once, or an HTTP/1.1 request without Host (RFC 9112 3.2: 400 for both): `400 malformed_request`, as
 * the HTTP parser's own refusals, naming the header and not its values, and the connection closed. Registered first,
 * so that nothing reads a header of which another was dropped.
 */
export const refuseAmbiguousRequestHeads = (app: App): void => {
  // Node keeps the first 2,000 headers and drops the rest from rawHeaders too: a second Authorization after 2,000
  // others went unseen and the first acted (review 175). Unlimited: Node's 16 KiB bound on the head still bounds them.
  app.server.maxHeadersCount = 0;
  app.addHook('onRequest', async (request) => {
    const counts = countsOf(request.raw.rawHeaders);
    const repeated = ONE_EACH.filter((name) => (counts.get(name) ?? 0) > 1);
    if (repeated.length > 0) throw malformed(`the request sends ${repeated.join(', ')} more than once: send each once`);
    const { httpVersionMajor: major, httpVersionMinor: minor } = request.raw;
    if (!counts.has('host') && major === 1 && minor >= 1) throw malformed('an HTTP/1.1 request must send a Host header (RFC 9112 3.2)');
  });
};
