import type { FastifyReply, FastifyRequest } from 'fastify';
import { PkiIncomplete, PublicationUnrecorded } from '../../runtime/index.ts';
import { CrlNotSigned } from '../../runtime/pki-ended-cas.ts';
import { HttpProblem, PROBLEM_CONTENT_TYPE, ProblemSchema } from '../problems.ts';
import { RETRY_AFTER, type ResponseHeaders } from '../response-headers.ts';

/**
 * What the public PKI routes refuse (routes/pki.ts), and how: every refusal `Cache-Control: no-store`, with a token or
 * without (review 85). The baseline says `no-store` only to a request with a token, and RFC 9111 4.2.2 lets a cache
 * keep a 404 or 410 as long as its heuristic likes: a CA made later under that id, or one that was starting, would
 * stay hidden behind it. A refusal costs no signature to answer again, so no cache needs to keep one.
 */

export const notReady = (): HttpProblem => new HttpProblem(503, 'starting', 'the PKI is starting; retry in a moment', {}, { 'retry-after': '1' });
export const noCa = (caId: string): HttpProblem => new HttpProblem(404, 'not_found', `no issuing CA ${caId}`, { caId });
/**
 * A CA whose chain has ended publishes no CRL (docs/pki.md, "A CA whose chain has ended"): every certificate it issued
 * ended no later than it, and none is signed under a retired key. Gone for good, so no Retry-After.
 */
export const caEnded = (caId: string, endedAt: Date): HttpProblem =>
  new HttpProblem(410, 'ca_ended', `CA ${caId} ended at ${endedAt.toISOString()} (its certificate or one above it): it publishes no CRL`, {
    caId,
    endedAt: endedAt.toISOString(),
  });

/**
 * Why a CRL was not served, as the HTTP answer: an incomplete read model (no CRL was issued before: none is signed from
 * part of it, pki-complete.ts), revocations not recorded as published yet (the cause, a path or an errno, is for the
 * service's log, where the publisher reported it), a CA that ended while the fetch waited in the publisher's queue
 * (410 as the URL of a retired CA), a publisher stopped with the service; anything else as it is.
 */
export const crlRefusal = (error: unknown): unknown => {
  if (error instanceof PkiIncomplete) {
    const { until, position } = error;
    return new HttpProblem(503, error.code, error.message, { until: until.toString(), ...(position !== undefined ? { position: position.toString() } : {}) }, { 'retry-after': '1' });
  }
  if (error instanceof PublicationUnrecorded) {
    return new HttpProblem(503, error.code, 'revocations could not be recorded as published yet; the CRL is issued once they are', {}, { 'retry-after': '5' });
  }
  if (error instanceof CrlNotSigned) {
    return error.code === 'ca_ended' && error.endedAt !== undefined
      ? caEnded(error.caId, error.endedAt)
      : new HttpProblem(503, 'stopping', 'the PKI is stopping; retry in a moment', {}, { 'retry-after': '1' });
  }
  return error;
};

type ErrorHandler = (error: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply;

/** `handler` (the service's own, or the OCSP responder's), each refusal it sends kept by no cache. */
export const notStored =
  (handler: ErrorHandler): ErrorHandler =>
  (error, request, reply) =>
    handler(error, request, reply.header('cache-control', 'no-store'));

const NO_STORE: ResponseHeaders = {
  'cache-control': {
    type: 'string',
    enum: ['no-store'],
    description: '`no-store`, with a token or without: no cache keeps a refusal of the PKI routes, which costs no signature to answer again',
  },
};
const refusal = (description: string, headers: ResponseHeaders = {}) => ({
  description,
  headers: { ...headers, ...NO_STORE },
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

/** The refusals of every PKI route as the OpenAPI document declares them (over openapi-refusals.ts's, by status). */
export const PKI_REFUSALS = {
  429: refusal('too many requests from this caller in the window (`rate_limited`)', RETRY_AFTER),
  503: refusal('not now: the PKI starting or stopping, the service overloaded or shutting down (Retry-After)', RETRY_AFTER),
  '4xx': refusal('RFC 9457 problem details'),
  '5xx': refusal('RFC 9457 problem details'),
};
export const CERTIFICATE_REFUSALS = { ...PKI_REFUSALS, 404: refusal('no issuing CA of that id (`not_found`)') };
export const CRL_REFUSALS = {
  ...CERTIFICATE_REFUSALS,
  410: refusal("the CA's chain has ended: it publishes no CRL (`ca_ended`, with `caId` and `endedAt`; no Retry-After)"),
  503: refusal(
    'not now: the PKI starting or stopping, its read model being rebuilt with no CRL issued before, revocations not recorded as published yet, the service overloaded or shutting down (Retry-After)',
    RETRY_AFTER,
  ),
};
/** An OCSP client is answered OCSPResponses only: these go to a POST of another type, or too large, and the like. */
export const OCSP_POST_REFUSALS = {
  ...PKI_REFUSALS,
  413: refusal('the body is larger than the service accepts (`payload_too_large`)'),
  415: refusal('a content type the route does not take, or a body sent with a Content-Encoding other than `identity` (answered with `Accept-Encoding: identity`) (`unsupported_media_type`)'),
};
