/**
 * Whether an HTTP answer of Credence's API is worth another try later: the server (or a proxy or CDN before it) failed
 * or is not there yet (5xx: a proxy answers 502 or 504 while the service restarts), shed the request (429) or gave up
 * waiting for it (408). Anything else says this request, or this token, will not be served: a 4xx, and a 501 or 505,
 * which no retry changes (a server without a pseudonym key answers integrators 501; found in review, retried once a
 * second for good).
 *
 * Here because both clients of the API keep to it and domain/ is the one place both may import: the web console
 * (adapters/console/src, which runs in a browser and imports only domain/) and adapters/client (the CLI's event
 * stream). Review 206: the client waited out 429 and 503 only, and ended for good on a proxy's 502 the console waited
 * out.
 */
export const transientStatus = (status: number): boolean => (status >= 500 && status !== 501 && status !== 505) || status === 408 || status === 429;
