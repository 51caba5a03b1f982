import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CaId, type IssuingCa } from '../../../domain/x509/issuing-ca.ts';
import { pemOf } from '../../../domain/x509/pem.ts';
import { MAX_OCSP_REQUEST_BYTES, OCSP_RESPONSE_STATUS, ocspErrorResponseDer } from '../../../domain/x509/revocation/index.ts';
import type { PkiRevocation } from '../../runtime/index.ts';
import type { RouteModule } from '../context.ts';
import { answerWithProblem, routeNotFound } from '../problems.ts';
import { redactedPathOf } from '../redact-url.ts';
import type { ResponseHeaders } from '../response-headers.ts';
import { MAX_PATH_PARAM_CHARS } from '../path-params.ts';
import { derOfOcspPath, isOcspRequestType, MAX_OCSP_GET_CHARS, OCSP_REQUEST, OCSP_RESPONSE } from './ocsp-url.ts';
import { answerComeBackWithTryLater } from './ocsp-try-later.ts';
import { answerAQueryWithMalformedRequest } from './ocsp-query-refusal.ts';
import { OCSP_GET_REFUSALS, OCSP_POST_PROBLEMS } from './ocsp-refusals.ts';
import { caEnded, CERTIFICATE_REFUSALS, CRL_REFUSALS, crlRefusal, noCa, notReady, notStored, PKI_REFUSALS } from './pki-refusals.ts';

/**
 * What relying parties fetch (issue 13), without a token: the CA certificates, the CRLs at the distribution point
 * (RFC 5280, DER) and the OCSP responder (RFC 6960: POST, and GET per appendix A.1). Every URL is what `pkiUrls`
 * writes into the certificates the CAs issue.
 */

const OCSP_POST_ROUTE = '/pki/:caId/ocsp';

/** Fastify's own 415, which the error handler answers naming the types the route takes (route-media-types.ts). */
const unsupportedMediaType = (message: string): Error => Object.assign(new Error(message), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 });

const Params = z.strictObject({ caId: CaId.describe('the issuing CA: `default`, or the M2M Service Subscription it serves') });
/**
 * An OCSP client reads OCSPResponses only (RFC 6960 2.3), so the responder's own path takes any segment the router
 * passes (it bounds every one; `ocspRouterRefusal` answers what it refuses) and answers a name no CA could have
 * `unauthorized`, as it answers an unknown CA, rather than a JSON 400 (found in review).
 */
const OcspParams = z.strictObject({ caId: z.string().max(MAX_PATH_PARAM_CHARS).describe('the issuing CA: `default`, or the M2M Service Subscription it serves') });

// `format: binary` for OpenAPI 3.0-minded generators, contentMediaType for 3.1 ones: either makes a blob type of it.
const derBytes = (type: string, description = 'binary (DER)') => z.any().meta({ type: 'string', format: 'binary', contentMediaType: type, description });
const binary = (type: string, description: string, headers?: ResponseHeaders) => ({
  description,
  ...(headers !== undefined ? { headers } : {}),
  content: { [type]: { schema: derBytes(type) } },
});

/** What sendCached sends with a CRL or a cacheable OCSP response, and with its 304. */
const CACHE_HEADERS: ResponseHeaders = {
  etag: { type: 'string', description: 'strong validator of these bytes: send it back in If-None-Match to be answered 304 while they are current' },
  'last-modified': { type: 'string', description: 'when this was signed (thisUpdate of a CRL, producedAt of an OCSP response), HTTP date' },
  expires: { type: 'string', description: 'nextUpdate, HTTP date' },
  'cache-control': { type: 'string', enum: ['public, no-cache'], description: '`public, no-cache`: a cache keeps it and revalidates it on every use' },
};
const notModified = z.undefined().meta({ description: 'Not Modified: If-None-Match named the current ETag; no body', headers: CACHE_HEADERS });
/** What sendCached sends with a CA certificate, chain or trust bundle (no dates: they change at `ca renew`), and with its 304. */
const CERTIFICATE_CACHE_HEADERS: ResponseHeaders = {
  etag: CACHE_HEADERS.etag!,
  'cache-control': {
    type: 'string',
    enum: ['public, no-cache'],
    description: '`public, no-cache`, with a token or without: a cache keeps it and revalidates it on every use (it changes at `ca renew`)',
  },
};
const certificateNotModified = z.undefined().meta({ description: 'Not Modified: If-None-Match named the current ETag; no body', headers: CERTIFICATE_CACHE_HEADERS });
const IfNoneMatch = z.looseObject({
  'if-none-match': z.string().optional().describe('ETags of a copy the client holds (RFC 9110 13.1.2): the current one among them is answered 304'),
});
const pemText = (description: string, headers?: ResponseHeaders) => ({
  description,
  ...(headers !== undefined ? { headers } : {}),
  content: { 'application/x-pem-file': { schema: z.string() } },
});

/**
 * A refusal's reason as logged, at most MAX_LOGGED_OCSP_REASON characters: the parser quotes what the sender chose cut
 * (quoted.ts), and this bounds what it did not foresee (a 15,500-arc critical OID made 62.7 KB of log per request).
 */
const MAX_LOGGED_OCSP_REASON = 300;
const loggedReason = (reason: string | undefined): string | undefined =>
  reason === undefined || reason.length <= MAX_LOGGED_OCSP_REASON ? reason : `${reason.slice(0, MAX_LOGGED_OCSP_REASON)}... (${reason.length} characters)`;

type OcspResponseStatus = keyof typeof OCSP_RESPONSE_STATUS;
const OCSP_STATUS_NAMES = new Map(Object.entries(OCSP_RESPONSE_STATUS).map(([name, value]) => [value as number, name as OcspResponseStatus]));

/**
 * The responseStatus an OCSPResponse opens with (RFC 6960 4.2.1: SEQUENCE { ENUMERATED, [0] responseBytes OPTIONAL }),
 * read from the DER the OCSP routes send: whichever part of them answered (the responder, the route, its error
 * handler), what the client was told is counted. Undefined for anything else.
 */
const responseStatusOf = (der: Uint8Array): OcspResponseStatus | undefined => {
  const length = der[1];
  if (der[0] !== 0x30 || length === undefined) return undefined;
  const at = 2 + (length < 0x80 ? 0 : length & 0x7f);
  const status = der[at + 2];
  return der[at] === 0x0a && der[at + 1] === 0x01 && status !== undefined ? OCSP_STATUS_NAMES.get(status) : undefined;
};

/** The entity tags of an If-None-Match list, weak or strong: `W/"x"`, `"y"`. */
const ENTITY_TAG = /(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g;

/**
 * Whether `header` (If-None-Match) matches the current `etag` (RFC 9110 13.1.2): `*`, or any tag of its list compared
 * weakly (a `W/` prefix on either side does not count). Found in review: only the exact strong tag alone was matched,
 * so caches that send a list or a weakened tag (proxies weaken tags they recompress) fetched the whole CRL every time.
 */
export const ifNoneMatchMatches = (header: string | undefined, etag: string): boolean => {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return (header.match(ENTITY_TAG) ?? []).some((tag) => opaque(tag) === opaque(etag));
};

/**
 * A strong validator of whole bytes: the first 32 characters of their SHA-256, base64url. Of a whole OCSP answer too,
 * as the CRLs' (found in review): its last bytes are the responder's certificate, the same in every answer, so a cache
 * revalidating a `good` answer after the revocation was told 304 and kept it.
 */
const etagOf = (bytes: Uint8Array): string => `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`;

/**
 * A strong validator of the content, and the HTTP dates of a CRL or an OCSP response (RFC 9110 8.8, RFC 5019 6.2); a CA
 * certificate, chain or trust bundle has none (review 306: they change at `ca renew`, and went without any validator).
 */
const sendCached = (
  request: FastifyRequest,
  reply: FastifyReply,
  type: string,
  body: { der: Uint8Array; etag: string; lastModified?: number; expires?: number },
): FastifyReply => {
  // Revocations are published in milliseconds: caches revalidate every time (a 304 costs nothing) rather than
  // serve a list that a revocation has made stale; a CA certificate renewed likewise.
  reply.header('cache-control', 'public, no-cache').header('etag', body.etag);
  if (body.lastModified !== undefined) reply.header('last-modified', new Date(body.lastModified).toUTCString());
  if (body.expires !== undefined) reply.header('expires', new Date(body.expires).toUTCString());
  if (ifNoneMatchMatches(request.headers['if-none-match'], body.etag)) return reply.code(304).send();
  return reply.type(type).send(Buffer.from(body.der));
};

/** PEM text (a chain, a trust bundle) as sendCached sends it. */
const sendCachedPem = (request: FastifyRequest, reply: FastifyReply, certificates: readonly Uint8Array[]): FastifyReply => {
  const der = Buffer.from(certificates.map((c) => pemOf('CERTIFICATE', c)).join(''));
  return sendCached(request, reply, 'application/x-pem-file', { der, etag: etagOf(der) });
};

export const pkiRoutes: RouteModule = (app, context) => {
  const revocation = (): PkiRevocation => {
    const current = context.pkiRevocation?.current;
    if (current === undefined) throw notReady();
    return current;
  };
  const caOf = (caId: string): IssuingCa => {
    const ca = revocation().cas.find((c) => c.id === caId);
    if (ca === undefined) throw noCa(caId);
    return ca;
  };

  // RFC 6960 A.1.1: the DER request as the body; bounded (the router answers 413 past it). A parser is the whole
  // server's: on any other route this type is refused as every type but JSON is (415), not handed on as bytes that
  // would skip the JSON limits and fail the route's schema with a misleading message.
  app.addContentTypeParser(OCSP_REQUEST, { parseAs: 'buffer', bodyLimit: MAX_OCSP_REQUEST_BYTES }, (request, body, done) => {
    if (request.routeOptions.url === OCSP_POST_ROUTE) return done(null, body);
    done(unsupportedMediaType(`${OCSP_REQUEST} is accepted by ${OCSP_POST_ROUTE} only`), undefined);
  });

  /**
   * Counts each OCSP answer sent (credence_ocsp_answers_total; review 276: the `internalError`s of a signer that
   * fails were counted nowhere). A 304 revalidates a signed answer. The label is a configured CA's id or `unknown`:
   * the path's segment is anyone's to choose.
   */
  const countOcspAnswer = async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const sentAs = String(reply.getHeader('content-type') ?? '');
    const outcome =
      reply.statusCode === 304 ? 'successful' : sentAs.startsWith(OCSP_RESPONSE) && Buffer.isBuffer(payload) ? responseStatusOf(payload) : undefined;
    if (outcome !== undefined) {
      const caId = (request.params as { caId?: unknown } | undefined)?.caId;
      const configured = context.pki?.cas.some((ca) => ca.id === caId) === true;
      context.metrics.ocspAnswered(configured ? (caId as string) : 'unknown', outcome);
    }
    return payload;
  };

  // Every refusal of these routes is kept by no cache, with a token or without (pki-refusals.ts, review 85).
  const refused = notStored(answerWithProblem);

  app.get('/pki/trust-bundle.pem', {
    config: { access: 'public' },
    errorHandler: refused,
    schema: {
      summary: 'Every issuing CA’s root certificate',
      description: 'PEM: the roots of every issuing CA of this deployment, for a relying party’s trust store (`openssl verify -CAfile`).',
      tags: ['pki'],
      headers: IfNoneMatch,
      response: { ...PKI_REFUSALS, 200: pemText('PEM certificates', CERTIFICATE_CACHE_HEADERS), 304: certificateNotModified },
    },
    handler: async (request, reply) => {
      const roots = new Map<string, Uint8Array>();
      for (const ca of revocation().cas) {
        const root = ca.chain.length > 0 ? ca.chain[ca.chain.length - 1]! : ca.certificate;
        roots.set(Buffer.from(root).toString('base64'), root);
      }
      return sendCachedPem(request, reply, [...roots.values()]);
    },
  });

  app.get('/pki/:caId/ca.crt', {
    config: { access: 'public' },
    errorHandler: refused,
    schema: {
      summary: 'An issuing CA’s certificate',
      description: 'DER (`application/pkix-cert`): the caIssuers URL of the certificates it issues.',
      tags: ['pki'],
      params: Params,
      headers: IfNoneMatch,
      response: { ...CERTIFICATE_REFUSALS, 200: binary('application/pkix-cert', 'the DER certificate', CERTIFICATE_CACHE_HEADERS), 304: certificateNotModified },
    },
    handler: async (request, reply) => {
      const { certificate } = caOf(request.params.caId);
      return sendCached(request, reply, 'application/pkix-cert', { der: certificate, etag: etagOf(certificate) });
    },
  });

  app.get('/pki/:caId/chain.pem', {
    config: { access: 'public' },
    errorHandler: refused,
    schema: {
      summary: 'An issuing CA’s certificate and the chain above it',
      description: 'PEM, the CA first and its root last (`-untrusted` for `openssl verify`, or a TLS server’s chain file).',
      tags: ['pki'],
      params: Params,
      headers: IfNoneMatch,
      response: { ...CERTIFICATE_REFUSALS, 200: pemText('PEM certificates', CERTIFICATE_CACHE_HEADERS), 304: certificateNotModified },
    },
    handler: async (request, reply) => {
      const ca = caOf(request.params.caId);
      return sendCachedPem(request, reply, [ca.certificate, ...ca.chain]);
    },
  });

  const crlRoute = (path: string, which: 'full' | 'delta', summary: string, description: string): void => {
    app.get(path, {
      config: { access: 'public' },
      errorHandler: refused,
      schema: {
        summary,
        description,
        tags: ['pki'],
        params: Params,
        headers: IfNoneMatch,
        response: { ...CRL_REFUSALS, 200: binary('application/pkix-crl', 'the DER CRL', CACHE_HEADERS), 304: notModified },
      },
      handler: async (request, reply) => {
        const caId = caOf(request.params.caId).id;
        // None for a CA whose chain has ended (retired, or ending before the tick retires it): 410.
        const publisher = revocation().crl(caId);
        if (publisher === undefined) {
          const endedAt = revocation().ended(caId);
          throw endedAt !== undefined ? caEnded(caId, endedAt) : noCa(request.params.caId);
        }
        // The CA may end, or the service stop, while this waits in the publisher's queue: it refuses then (review 85).
        const crl = await (which === 'full' ? publisher.full() : publisher.delta()).catch((error: unknown) => {
          throw crlRefusal(error);
        });
        return sendCached(request, reply, 'application/pkix-crl', { der: crl.der, etag: crl.etag, lastModified: crl.thisUpdate, expires: crl.nextUpdate });
      },
    });
  };
  crlRoute(
    '/pki/:caId/crl',
    'full',
    'The complete CRL (distribution point)',
    'DER (`application/pkix-crl`, RFC 5280): every certificate the CA revoked, with its reason; assembled when fetched after a revocation. ' +
      'Its freshestCRL names the delta CRL. ETag and If-None-Match are supported.',
  );
  crlRoute(
    '/pki/:caId/delta-crl',
    'delta',
    'The newest delta CRL',
    'DER (`application/pkix-crl`, RFC 5280 5.2.4): what was revoked since the complete CRL its deltaCRLIndicator names; issued within ' +
      'milliseconds of every revocation.',
  );

  /** `der` is the DER request, or why there is none (for the log). */
  const answerOcsp = async (caId: string, der: Uint8Array | string, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const current = context.pkiRevocation?.current;
    const responder = CaId.safeParse(caId).success ? current?.ocsp(caId as CaId) : undefined;
    // A CA whose chain has ended is retired (review 82): it has no responder, and is answered as a CA not served.
    const endedAt = responder === undefined ? current?.ended(caId) : undefined;
    // RFC 6960 2.3: an OCSP client reads OCSPResponses only, so a PKI still starting (the service listens before its
    // responders exist) says `tryLater`, as an incomplete read model does, not a JSON 503; a responder that cannot
    // answer for this issuer says `unauthorized`, a garbled request `malformedRequest`.
    const answer = current === undefined
      ? { der: ocspErrorResponseDer('tryLater'), outcome: 'tryLater', reason: 'the PKI is starting', cacheable: false }
      : responder === undefined
        ? {
          der: ocspErrorResponseDer('unauthorized'),
          outcome: 'unauthorized',
          reason: endedAt !== undefined ? `CA ${caId} ended at ${endedAt.toISOString()}` : `no issuing CA ${caId}`,
          cacheable: false,
        }
        : typeof der === 'string'
          ? { der: ocspErrorResponseDer('malformedRequest'), outcome: 'malformedRequest', reason: der, cacheable: false }
          : await responder.respond(der);
    if (answer.outcome !== 'successful') request.log.info({ caId, outcome: answer.outcome, reason: loggedReason(answer.reason) }, 'OCSP request refused');
    // HEAD is the GET route's too (Fastify): the same header fields, 304 included (RFC 9110 9.3.2; review 171: it was
    // `no-store`, no validators, and 200 where GET is 304). Fastify sends a HEAD answer without its body.
    const asGet = request.method === 'GET' || request.method === 'HEAD';
    if (asGet && 'producedAt' in answer && answer.cacheable && answer.producedAt !== undefined && answer.nextUpdate !== undefined) {
      return sendCached(request, reply, OCSP_RESPONSE, { der: answer.der, etag: etagOf(answer.der), lastModified: answer.producedAt, expires: answer.nextUpdate });
    }
    return reply.header('cache-control', 'no-store').type(OCSP_RESPONSE).send(Buffer.from(answer.der));
  };

  // The rate limit and load shedding answer an OCSP client `tryLater`, not a JSON 429 or 503 (review 82).
  // A query, which neither takes, is `malformedRequest` to an OCSP client (ocsp-query-refusal.ts).
  const comeBack = notStored(answerAQueryWithMalformedRequest(answerComeBackWithTryLater(context.metrics)));

  app.post(OCSP_POST_ROUTE, {
    config: { access: 'public' },
    // The route's own limit, not the server's 1 MiB: the parser's alone cut the body at 16 KiB while the 413 named the
    // route's limit (review 148), and a declared Content-Length over it is refused unread (protection.ts).
    bodyLimit: MAX_OCSP_REQUEST_BYTES,
    errorHandler: comeBack,
    onSend: countOcspAnswer,
    // The JSON parser is the whole server's: a JSON body here was parsed and answered (`{}` an OCSP `unauthorized`, `{`
    // a 400) where any other type is 415 (review 135). Refused unread, whatever its body.
    preParsing: async (request, _reply, payload) => {
      if (request.headers['content-type'] !== undefined && !isOcspRequestType(request)) throw unsupportedMediaType(`${OCSP_POST_ROUTE} takes ${OCSP_REQUEST} only`);
      return payload;
    },
    schema: {
      summary: 'OCSP responder (POST)',
      description:
        `RFC 6960 A.1: a DER OCSPRequest (\`${OCSP_REQUEST}\`, at most ${MAX_OCSP_REQUEST_BYTES} bytes) in, a signed OCSPResponse out ` +
        '(good, revoked with time and reason, or unknown; a nonce is echoed per RFC 8954). `openssl ocsp -url` uses this form.',
      tags: ['pki'],
      params: OcspParams,
      consumes: [OCSP_REQUEST],
      body: derBytes(OCSP_REQUEST, `DER OCSPRequest (${OCSP_REQUEST})`),
      response: {
        ...OCSP_POST_PROBLEMS,
        200: binary(OCSP_RESPONSE, 'the DER OCSPResponse (errors too: malformedRequest, unauthorized, tryLater, the last also for a request the rate limit or load shedding turned away)'),
      },
    },
    handler: async (request, reply) =>
      answerOcsp(request.params.caId, Buffer.isBuffer(request.body) ? new Uint8Array(request.body) : 'no DER request', request, reply),
  });

  // A wildcard, not a parameter: many clients send the base64 `/` unencoded (RFC 6960 A.1 base64 includes it), which
  // splits the request over several segments, and the router bounds a parameter (`maxParamLength`, a JSON 414) but
  // not a wildcard, which `derOfOcspPath` bounds with an OCSPResponse instead.
  app.get('/pki/:caId/ocsp/*', {
    config: { access: 'public' },
    errorHandler: comeBack,
    onSend: countOcspAnswer,
    schema: {
      summary: 'OCSP responder (GET)',
      description:
        'RFC 6960 A.1: the base64 DER OCSPRequest, URL-encoded, after `ocsp/` (a `/` is read encoded as `%2F` or as it is; the URL-safe ' +
        'alphabet of RFC 4648 5 is read too; only the one spelling of RFC 4648 3.5, padded or not, is read: anything else is `malformedRequest`); ' +
        `up to ${MAX_OCSP_GET_CHARS} characters decoded, longer is \`malformedRequest\` ` +
        '(RFC 5019 2.1.1: larger requests use POST). Answers without a nonce are cacheable (ETag, Last-Modified, Expires = nextUpdate).',
      tags: ['pki'],
      params: OcspParams.extend({ '*': z.string().describe('URL-encoded base64 of the DER OCSPRequest (it may hold `/`)') }),
      headers: IfNoneMatch,
      response: {
        ...OCSP_GET_REFUSALS,
        200: binary(
          OCSP_RESPONSE,
          'the DER OCSPResponse; one with a nonce, or an error status (`tryLater` too for a request the rate limit or load shedding turned away), is sent with `Cache-Control: no-store` and no validators',
          CACHE_HEADERS,
        ),
        304: notModified,
      },
    },
    handler: async (request, reply) => {
      // The router has decoded the path already, `%2F` included, and leaves a raw `/` as it is: the request is whole.
      return answerOcsp(request.params.caId, derOfOcspPath(request.params['*']), request, reply);
    },
  });

  // A GET without the request segment (review 306: a JSON 404 a cache could keep): `malformedRequest`, as `ocsp/` is.
  // Not in the OpenAPI document, which describes the OCSP GET once, by its request segment (docs/pki.md says this).
  app.get(OCSP_POST_ROUTE, {
    config: { access: 'public' },
    errorHandler: comeBack,
    onSend: countOcspAnswer,
    schema: { hide: true, params: OcspParams },
    handler: async (request, reply) => answerOcsp(request.params.caId, 'no request after ocsp', request, reply),
  });

  // A CRL's URL with a trailing slash (`/pki/default/crl/`): the 404 every client gets, kept by no cache either (review
  // 306), as the refusals of the routes above are. Parameters, not a wildcard under /pki/: a CA segment the router
  // refuses (too long) keeps its own answer.
  for (const path of ['/pki/:caId/crl/', '/pki/:caId/delta-crl/']) {
    app.get(path, {
      config: { access: 'public' },
      errorHandler: refused,
      schema: { hide: true },
      handler: async (request) => {
        throw routeNotFound(`no route ${request.method} ${redactedPathOf(request).slice(0, 200)}`);
      },
    });
  }
};
