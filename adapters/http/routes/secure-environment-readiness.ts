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
 * What /readyz last logged of one of its checks (review 381): it is public, and a line per call while unready let a
 * stranger polling it write as many lines as it sent. A failure is logged when first seen and when its reason changes,
 * and its recovery once; whichever listener asks (the API's port and the probe port share one per check).
 */
export class ReadinessLog {
  #failing: string | undefined;

  constructor(
    private readonly check: string,
    /** Said at info once the check passes again. */
    private readonly recovered: string,
  ) {}

  /** Calls `say` when `reason` is not what was last said: the failure is new, or its reason changed. */
  failing(reason: string, say: () => void): void {
    if (this.#failing === reason) return;
    this.#failing = reason;
    say();
  }

  /** The check passed: said once, when it was failing. */
  passing(log: FastifyBaseLogger): void {
    if (this.#failing === undefined) return;
    this.#failing = undefined;
    log.info({ check: this.check }, this.recovered);
  }
}

/**
 * What /readyz says of a Secure Environment that cannot be used: the reason (`token_unavailable`, `pin_locked`, ...)
 * and the PKCS#11 return value, never the token's label (this answer is public); the log has the whole message, once
 * per reason and message (`said`: another CA's or responder's key missing is a change).
 */
export const secureEnvironmentUnready = async (
  check: SecureEnvironmentUnavailable | undefined,
  log: FastifyBaseLogger,
  said: ReadinessLog,
): Promise<{ readonly detail: string; readonly extensions: Readonly<Record<string, string>> } | undefined> => {
  if (check === undefined) return undefined;
  // Anything else the check meets (the Secure Environment closed under a shutdown, say) is unready too, said as such.
  const error: unknown = await check().catch((thrown: unknown) => thrown);
  if (error === undefined) {
    said.passing(log);
    return undefined;
  }
  const problem = isCredenceError(error, 'secure_environment_unavailable') && error.problem.code === 'secure_environment_unavailable' ? error.problem : undefined;
  const reason = problem?.reason ?? 'check_failed';
  const returnValue = problem?.returnValue;
  // Keyed by what the line names, its message too: `ca_signing_key_missing` has no return value, so CA A's key missing,
  // then A's back while B's is missing, was no change and the log still named A's key (review 382).
  said.failing(`${reason} ${returnValue ?? ''} ${problem?.message ?? ''}`, () =>
    log.warn(
      { check: 'secure_environment', reason, returnValue, ...(problem === undefined ? { err: error } : {}) },
      `not ready: ${problem?.message ?? 'the check of the Secure Environment failed'}`,
    ),
  );
  const answered = returnValue !== undefined ? `, ${returnValue}` : '';
  return {
    detail: `the service's Secure Environment cannot be used now (${reason}${answered}): requests that need its keys are refused until its operator brings it back (the service's log says why)`,
    extensions: { reason, ...(returnValue !== undefined ? { returnValue } : {}) },
  };
};
