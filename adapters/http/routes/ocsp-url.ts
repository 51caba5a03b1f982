import type { FastifyReply, FastifyRequest } from 'fastify';
import { ocspErrorResponseDer, type OcspErrorStatus } from '../../../domain/x509/revocation/index.ts';
import { MAX_PATH_PARAM_CHARS } from '../path-params.ts';

/**
 * The OCSP responder's URLs as an OCSP client uses them (RFC 6960 A.1): `POST /pki/<caId>/ocsp` and
 * `GET /pki/<caId>/ocsp/<url-encoded base64 OCSPRequest>`. An OCSP client reads OCSPResponses only (RFC 6960 2.3), so
 * whatever is wrong with such a request, its CA segment included, is answered with one, never with a JSON problem.
 */

export const OCSP_REQUEST = 'application/ocsp-request';
export const OCSP_RESPONSE = 'application/ocsp-response';

/**
 * The longest GET request read, in characters after the router's decoding: the base64 of a DER request of about 3 KiB,
 * room for a few CertIDs hashed with SHA-512 and a nonce. RFC 5019 2.1.1 sends larger requests by POST; a longer one
 * is answered `malformedRequest`, as anything the responder cannot read. (The raw URL is bounded before: Node's HTTP
 * parser refuses a request line and headers over 16 KiB, so the router never percent-decodes more.)
 */
export const MAX_OCSP_GET_CHARS = 4096;

const STANDARD = /^[A-Za-z0-9+/]+={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * `text` in one base64 alphabet, read only if it is the one spelling of its bytes (RFC 4648 3.5: the bits past the
 * last octet are zero), padded exactly to a multiple of four or not at all. Node's decoder is lenient: it dropped a
 * stray last character, or took one `=` where two belong, so several URLs read as one request (found in review).
 */
const canonical = (text: string, alphabet: 'base64' | 'base64url'): Uint8Array | undefined => {
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(unpadded, alphabet);
  return bytes.toString(alphabet).replace(/=+$/, '') === unpadded ? new Uint8Array(bytes) : undefined;
};

/**
 * The DER request of a GET (everything after `ocsp/`, as the router decoded it: `%2F` is a `/`, `%2B` a `+`, `%3D` a
 * `=`; a `+` or `=` left unencoded is itself in a path), or why there is none, for the log. RFC 6960 A.1 asks for
 * base64; some clients send the URL-safe alphabet (RFC 4648 5), which no standard base64 can be mistaken for (`-`
 * and `_` are in neither the other alphabet nor a base64 string), so both are read, one alphabet per request.
 * Whitespace (a MIME encoder's line breaks, percent-encoded) is left out. The length is bounded before anything is
 * decoded.
 */
export const derOfOcspPath = (path: string): Uint8Array | string => {
  if (path.length > MAX_OCSP_GET_CHARS) return `GET request longer than ${MAX_OCSP_GET_CHARS} characters (POST it)`;
  const base64 = path.replace(/[\t\n\r ]/g, '');
  const der = STANDARD.test(base64) ? canonical(base64, 'base64') : URL_SAFE.test(base64) ? canonical(base64, 'base64url') : undefined;
  return der ?? 'GET request not in base64';
};

/** `/pki/<caId segment, still percent-encoded>/ocsp`, then for a GET `/` and the request; the query is not read. */
const OCSP_URL = /^\/pki\/([^/?#]*)\/ocsp(\/[^?#]*)?(?:[?#]|$)/;

/** A CA path segment no CA can have: not percent-decodable, or longer than the router takes a parameter. */
const isUnservableCaSegment = (raw: string): boolean => {
  try {
    return decodeURIComponent(raw).length > MAX_PATH_PARAM_CHARS;
  } catch {
    return true;
  }
};

/** `Content-Type: application/ocsp-request`, in any case and with any parameters, as the content-type parser matches it. */
export const isOcspRequestType = (request: FastifyRequest): boolean =>
  (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase() === OCSP_REQUEST;

/**
 * The OCSP answer to a request the router refused before any route ran (Fastify `frameworkErrors`: a malformed
 * %-escape, or a segment longer than `MAX_PATH_PARAM_CHARS`), when it was sent to an OCSP URL as an OCSP client sends
 * it: a GET under `ocsp/`, or a POST of `application/ocsp-request` (RFC 6960 A.1.1; a POST of another type gets the
 * problem the route gives it, 415). Undefined for any other request, which keeps its problem document.
 *
 * A CA segment no CA can have is `unauthorized`, as an unknown CA is (RFC 6960 2.3: the responder cannot answer
 * authoritatively for it; RFC 5019 2.2.3), whatever the request; otherwise what the router could not decode is the
 * GET's request, `malformedRequest`. Before, a POST got a JSON 400 or 414, and a GET `malformedRequest` for its CA.
 */
export const ocspRouterRefusal = (request: FastifyRequest): OcspErrorStatus | undefined => {
  const url = OCSP_URL.exec(request.url);
  if (url === null) return undefined;
  const [, caSegment = '', rest] = url;
  const fromOcspClient = request.method === 'GET' ? rest !== undefined : request.method === 'POST' && rest === undefined && isOcspRequestType(request);
  if (!fromOcspClient) return undefined;
  return isUnservableCaSegment(caSegment) ? 'unauthorized' : 'malformedRequest';
};

/**
 * Sends the unsigned error `status` (RFC 6960 2.3) for a request no route ran for: HTTP 200, as every OCSP answer
 * (the status is in the body), never cached. Nothing of the URL is logged or echoed: it is what was wrong.
 */
export const sendOcspRefusal = (reply: FastifyReply, request: FastifyRequest, status: OcspErrorStatus): FastifyReply => {
  request.log.info({ outcome: status, reason: 'the request path cannot be routed' }, 'OCSP request refused');
  // No route, so no onSend hook: the request id header is set here.
  return reply.code(200).header('x-request-id', request.id).header('cache-control', 'no-store').type(OCSP_RESPONSE).send(Buffer.from(ocspErrorResponseDer(status)));
};
