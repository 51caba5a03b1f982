import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { concealedRefusal } from '../../../domain/protocols/protocol.ts';
import type { Credence } from '../../runtime/index.ts';
import type { ServiceContext } from '../context.ts';

type Endpoints = Awaited<ReturnType<Credence['security']>>['endpoints'];

/**
 * The Enrolment Function and Registrar CSE endpoints the device routes call, shared by both route modules: opened
 * when the routes are registered, so at server build (the keys of runs that died with the last process are swept at
 * start, and a Secure Environment or store that cannot open fails the start instead of the first device request).
 * Each request asks the instance again: it shares the one opening, or opens again if that failed meanwhile.
 * Without a Secure Environment (a server built for the other routes only) nothing is opened, and a device
 * request fails as `security()` does.
 */
export const openDeviceEndpoints = async ({ credence }: ServiceContext): Promise<() => Promise<Endpoints>> => {
  if (credence.hasSecurity) await credence.security();
  return async () => (await credence.security()).endpoints;
};

/**
 * Answers a device message, logging at info the real reason behind a refusal the peer was told only
 * `unknown_credential` (`unusableCredential`): at a hello, or at the auth or finish of a run whose credential ended
 * before the peer's proof verified (seeds 002 and 004 unobservability). The device is not to learn that its
 * credential was revoked or has expired, but its operator must be able to. The log line's `msg` names the message
 * (`hello refused as unknown_credential`, `auth …`, `finish …`). A refusal names fingerprints and ids, never secret
 * material (domain/errors.ts).
 */
export const answerDevice = async <T>(log: FastifyBaseLogger, answer: () => Promise<T>): Promise<T> => {
  try {
    return await answer();
  } catch (error) {
    const concealed = concealedRefusal(error);
    if (concealed !== undefined) {
      const message = concealed.step.slice(concealed.step.lastIndexOf('.') + 1);
      log.info({ step: concealed.step, reason: concealed.reason, detail: concealed.message }, `${message} refused as unknown_credential`);
    }
    throw error;
  }
};

/**
 * Where a hello came from, for its responder's session table (`Claim.peer`, SER-001): hellos from one peer never
 * evict a run begun from another. The connection's address as Fastify reports it (this server sets no `trustProxy`,
 * so a forwarded-for header cannot choose it). Not grouped by IPv6 prefix as the rate limit groups it: a device's
 * neighbours in its /64 would share its bound, and the table-wide bound with that rate limit already caps what one
 * prefix can hold.
 */
export const helloPeer = (request: FastifyRequest): string => request.ip;
