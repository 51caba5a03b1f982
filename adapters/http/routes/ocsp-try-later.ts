import type { FastifyReply, FastifyRequest } from 'fastify';
import { ocspErrorResponseDer } from '../../../domain/x509/revocation/index.ts';
import type { ServiceMetrics } from '../metrics.ts';
import { answerWithProblem, mapError } from '../problems.ts';
import { OCSP_REQUEST, OCSP_RESPONSE } from './ocsp-url.ts';

/**
 * The statuses of the refusals that ask a client to come back, each sent with Retry-After: the rate limit's `429`,
 * and the `503` of load shedding, of a shutdown and of a busy or unreachable event store (a damaged database's has no
 * Retry-After: nothing says it will mend).
 */
const COME_BACK = new Set([429, 503]);

/** A POST is an OCSP client's when it sends `application/ocsp-request` (any case, any parameters, as its parser matches). */
const fromOcspClient = (request: FastifyRequest): boolean =>
  request.method !== 'POST' || (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase() === OCSP_REQUEST;

/**
 * The error handler of the OCSP responder's routes (review 82): an OCSP client reads OCSPResponses only (RFC 6960
 * 2.3), so a request the layer in front of the responder turns away for now, the rate limit or load shedding
 * (protection.ts) or a shutdown, gets the unsigned `tryLater`, not a JSON `429` or `503` whose `instance` echoed a
 * GET's whole request. HTTP 200 as every OCSP answer, `no-store`, and the refusal's own Retry-After (an HTTP header,
 * which RFC 6960 does not forbid and clients that read it use). Still counted as the refusal it is: among the rate
 * limit's (onExceeded) and the refusals by the status it stands for, as a 503 was counted before. A caller over its
 * rate limit keeps no connection open, as with a 429 (server.ts). Any other error, and a POST of another type, keeps
 * its problem (answerWithProblem).
 */
export const answerComeBackWithTryLater =
  (metrics: ServiceMetrics) =>
  (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const mapped = mapError(error);
    const retryAfter = mapped.headers?.['retry-after'];
    if (!COME_BACK.has(mapped.status) || retryAfter === undefined || !fromOcspClient(request)) return answerWithProblem(error, request, reply);
    // The refusal's code and detail name the limit or the pressure, never the URL (which is what a GET's request is).
    request.log.info({ outcome: 'tryLater', reason: `${mapped.code}: ${mapped.detail}` }, 'OCSP request refused');
    metrics.requestRefused(mapped.status, request.routeOptions.url ?? 'unmatched');
    if (mapped.status === 429) reply.header('connection', 'close');
    return reply
      .code(200)
      .header('retry-after', retryAfter)
      .header('cache-control', 'no-store')
      .type(OCSP_RESPONSE)
      .send(Buffer.from(ocspErrorResponseDer('tryLater')));
  };
