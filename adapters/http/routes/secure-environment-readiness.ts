import type { FastifyBaseLogger } from 'fastify';
import { isCredenceError, type CredenceError } from '../../../domain/errors.ts';
import { Pkcs11SecureEnvironment } from '../../runtime/index.ts';

/** Why the service's Secure Environment cannot be used now, or undefined when it can (GET /readyz). */
export type SecureEnvironmentUnavailable = () => Promise<CredenceError | undefined>;

/**
 * The readiness check of the service's Secure Environment: one over PKCS#11 checks its token (and recovers a lost
 * session, as an operation would: Pkcs11SecureEnvironment `unavailable`; /readyz needs no credential, so that
 * recovery's module restart is held to a backing-off wait while the token stays away, review 269); the embedded one
 * has nothing to add, its keys are in the data folder, and it stays ready. Undefined: nothing to check.
 */
export const secureEnvironmentReadiness = (se: object): SecureEnvironmentUnavailable | undefined =>
  se instanceof Pkcs11SecureEnvironment ? () => se.unavailable() : undefined;

/**
 * What /readyz says of a Secure Environment that cannot be used: the reason (`token_unavailable`, `pin_locked`, ...)
 * and the PKCS#11 return value, never the token's label (this answer is public); the log has the whole message.
 */
export const secureEnvironmentUnready = async (
  check: SecureEnvironmentUnavailable | undefined,
  log: FastifyBaseLogger,
): Promise<{ readonly detail: string; readonly extensions: Readonly<Record<string, string>> } | undefined> => {
  if (check === undefined) return undefined;
  // Anything else the check meets (the Secure Environment closed under a shutdown, say) is unready too, said as such.
  const error: unknown = await check().catch((thrown: unknown) => thrown);
  if (error === undefined) return undefined;
  const problem = isCredenceError(error, 'secure_environment_unavailable') && error.problem.code === 'secure_environment_unavailable' ? error.problem : undefined;
  const reason = problem?.reason ?? 'check_failed';
  const returnValue = problem?.returnValue;
  log.warn({ reason, returnValue, ...(problem === undefined ? { err: error } : {}) }, `not ready: ${problem?.message ?? 'the check of the Secure Environment failed'}`);
  const answered = returnValue !== undefined ? `, ${returnValue}` : '';
  return {
    detail: `the service's Secure Environment cannot be used now (${reason}${answered}): requests that need its keys are refused until its operator brings it back (the service's log says why)`,
    extensions: { reason, ...(returnValue !== undefined ? { returnValue } : {}) },
  };
};
