import type { ResponseHeaders } from './response-headers.ts';

/**
 * The caching headers of the OCSP responder's 200s as it sends them (routes/pki.ts, `answerOcsp`; routes/ocsp-url.ts
 * for a URL the router refuses). The route declares the CRLs' headers on its GET, which fit a cacheable answer only:
 * an error status (`malformedRequest`, `unauthorized`, `tryLater`, `internalError`) is an HTTP 200 too, sent
 * `no-store` with no validators, and the POST's answers, declared with none, are all `no-store`.
 */
const CACHEABLE = '`public, no-cache`';

/** What a `tryLater` that stands for a refusal of the rate limit, load shedding or a shutdown carries (routes/ocsp-try-later.ts). */
const TRY_LATER_RETRY_AFTER: ResponseHeaders = {
  'retry-after': {
    type: 'integer',
    minimum: 0,
    description: 'with a `tryLater` sent for the rate limit, load shedding or a shutdown only: seconds to wait before asking again',
  },
};

export const OCSP_GET_200: ResponseHeaders = {
  'cache-control': {
    type: 'string',
    enum: ['public, no-cache', 'no-store'],
    description:
      `${CACHEABLE} on a signed answer about one certificate, good or revoked, to a request without a nonce: a cache keeps it and ` +
      'revalidates it on every use; `no-store` on every other answer, kept by no cache: one with a nonce, about several ' +
      'certificates or an `unknown` one, whose revocation could not be recorded yet, or with an error status (`malformedRequest`, ' +
      '`unauthorized`, `tryLater`, `internalError`)',
  },
  etag: {
    type: 'string',
    description: `with ${CACHEABLE} only: strong validator of these bytes; send it back in If-None-Match to be answered 304 while they are current`,
  },
  'last-modified': { type: 'string', description: `with ${CACHEABLE} only: producedAt of the OCSP response, HTTP date` },
  expires: { type: 'string', description: `with ${CACHEABLE} only: nextUpdate of the OCSP response, HTTP date` },
  ...TRY_LATER_RETRY_AFTER,
};

export const OCSP_POST_200: ResponseHeaders = {
  'cache-control': {
    type: 'string',
    enum: ['no-store'],
    description: '`no-store` on every answer, signed or an error status: an answer by POST is kept by no cache',
  },
  ...TRY_LATER_RETRY_AFTER,
};

/** By `METHOD url status`, as the transform knows a route (the GET by its wildcard, not yet named). */
export const OCSP_CACHING: Readonly<Record<string, ResponseHeaders>> = {
  'GET /pki/:caId/ocsp/* 200': OCSP_GET_200,
  'POST /pki/:caId/ocsp 200': OCSP_POST_200,
};

/**
 * The statuses every route declares (openapi-refusals.ts) that an OCSP route never answers, by `METHOD url`: a GET is
 * always an OCSP client's, turned away by the rate limit, load shedding or a shutdown with `tryLater`, HTTP 200
 * (routes/ocsp-try-later.ts; routes/ocsp-refusals.ts). The POST keeps them: a POST of another type gets the problems.
 * Neither answers the 400 of a route with parameters (review 432): a CA segment or query an OCSP client sent is told
 * in OCSP (routes/ocsp-url.ts, routes/ocsp-query-refusal.ts), and a POST of another type is refused 415 before.
 */
export const OCSP_NEVER_ANSWERED: Readonly<Record<string, ReadonlySet<string>>> = {
  'GET /pki/:caId/ocsp/*': new Set(['400', '429', '503']),
  'POST /pki/:caId/ocsp': new Set(['400']),
};
