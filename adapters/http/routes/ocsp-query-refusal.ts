import type { FastifyReply, FastifyRequest } from 'fastify';
import { ocspErrorResponseDer } from '../../../domain/x509/revocation/index.ts';
import { mapError } from '../problems.ts';
import { isOcspRequestType, OCSP_RESPONSE } from './ocsp-url.ts';

type ErrorHandler = (error: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply;

/** Whether `error` is a refusal of the query alone: every issue at `query` or below (an unknown name, an escape). */
const refusesTheQueryOnly = (error: unknown): boolean => {
  const mapped = mapError(error);
  const issues = mapped.extensions?.['errors'];
  return (
    mapped.code === 'validation' &&
    Array.isArray(issues) &&
    issues.length > 0 &&
    issues.every((issue: { path?: unknown }) => issue.path === 'query' || (typeof issue.path === 'string' && issue.path.startsWith('query.')))
  );
};

/**
 * The OCSP responder's routes take no query (RFC 6960 A.1 puts the whole request in the path or the body), and are
 * given none (no-query-by-default.ts): a query an OCSP client sent is refused as what it cannot read is, with the
 * unsigned `malformedRequest`, HTTP 200 and `no-store` (RFC 6960 2.3: an OCSP client reads OCSPResponses only), not
 * a JSON 400. Before review 219 it was read past (`?nonce=…` answered as if no nonce had been asked for). A POST of
 * another type keeps its problem, as every refusal of it does; so does any other error (`next`).
 */
export const answerAQueryWithMalformedRequest =
  (next: ErrorHandler): ErrorHandler =>
  (error, request, reply) => {
    const fromOcspClient = request.method !== 'POST' || isOcspRequestType(request);
    if (!fromOcspClient || !refusesTheQueryOnly(error)) return next(error, request, reply);
    // Never the query itself: what it holds is the caller's.
    request.log.info({ outcome: 'malformedRequest', reason: 'a query string, which an OCSP request has none of' }, 'OCSP request refused');
    return reply.code(200).header('cache-control', 'no-store').type(OCSP_RESPONSE).send(Buffer.from(ocspErrorResponseDer('malformedRequest')));
  };
