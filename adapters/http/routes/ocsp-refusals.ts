import { OCSP_POST_REFUSALS, PKI_REFUSALS } from './pki-refusals.ts';

/**
 * The problems the OCSP responder's routes answer (routes/pki.ts), as the OpenAPI document declares them. An OCSP
 * client reads OCSPResponses only (RFC 6960 2.3): the rate limit, load shedding and a shutdown turn it away with the
 * unsigned `tryLater`, HTTP 200 (routes/ocsp-try-later.ts, review 82), so the GET, every request of which is an OCSP
 * client's, declares no 429 nor 503 (openapi-ocsp-caching.ts takes off those every route declares), and the POST
 * declares them for a POST of another type only. The rest is what the HTTP layer refuses before the responder runs.
 */

const describedAs = <T extends { readonly description: string }>(refusal: T, description: string): T => ({ ...refusal, description });

const CATCH_ALL = {
  '4xx': describedAs(PKI_REFUSALS['4xx'], 'RFC 9457 problem details: what the HTTP server refuses before the responder reads the request (not valid HTTP/1.1, say)'),
  '5xx': describedAs(PKI_REFUSALS['5xx'], "RFC 9457 problem details: a failure of the service itself (the responder's own is the OCSPResponse `internalError`)"),
};

export const OCSP_GET_REFUSALS = {
  ...CATCH_ALL,
  413: describedAs(OCSP_POST_REFUSALS[413], 'a body declared (Content-Length) larger than the service accepts (`payload_too_large`); an OCSP GET sends none'),
};

const ANOTHER_TYPE = 'to a POST of another type than `application/ocsp-request` only (an OCSP client is answered `tryLater`, HTTP 200)';

export const OCSP_POST_PROBLEMS = {
  ...OCSP_POST_REFUSALS,
  ...CATCH_ALL,
  429: describedAs(PKI_REFUSALS[429], `${ANOTHER_TYPE}: too many requests from this caller in the window (\`rate_limited\`)`),
  503: describedAs(PKI_REFUSALS[503], `${ANOTHER_TYPE}: the service overloaded or shutting down (Retry-After)`),
};
