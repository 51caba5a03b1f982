import type { FastifyBaseLogger } from 'fastify';
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
 * Answers a hello, logging at info the real reason behind a refusal the peer was told only `unknown_credential`
 * (`unusableCredential`): the device is not to learn that its credential was revoked or has expired, but its operator
 * must be able to. A refusal names fingerprints and ids, never secret material (domain/errors.ts).
 */
export const answerHello = async <T>(log: FastifyBaseLogger, answer: () => Promise<T>): Promise<T> => {
  try {
    return await answer();
  } catch (error) {
    const concealed = concealedRefusal(error);
    if (concealed !== undefined) log.info({ step: concealed.step, reason: concealed.reason, detail: concealed.message }, 'hello refused as unknown_credential');
    throw error;
  }
};
