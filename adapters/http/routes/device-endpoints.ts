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
