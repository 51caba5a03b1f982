import type { ServerOptions } from 'node:http';
import type { App } from './context.ts';
import { HttpProblem } from './problems.ts';

/**
 * Node's HTTP server options of every listener. Node answers an HTTP/1.1 request without Host itself, a bare 400 with
 * no body and none of the headers every answer carries (review 135): its check is off, and refuseAmbiguousRequestHeads
 * makes it as a problem.
 */
export const NODE_HTTP_OPTIONS: ServerOptions = { requireHostHeader: false };

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
  app.addHook('onRequest', async (request) => {
    const counts = countsOf(request.raw.rawHeaders);
    const repeated = ONE_EACH.filter((name) => (counts.get(name) ?? 0) > 1);
    if (repeated.length > 0) throw malformed(`the request sends ${repeated.join(', ')} more than once: send each once`);
    const { httpVersionMajor: major, httpVersionMinor: minor } = request.raw;
    if (!counts.has('host') && major === 1 && minor >= 1) throw malformed('an HTTP/1.1 request must send a Host header (RFC 9112 3.2)');
  });
};
