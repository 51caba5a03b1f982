import { statSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import { validationError } from '../../domain/errors.ts';
import type { RequestSigningPolicy } from '../../domain/signing/index.ts';
import { readSigningPolicyFile } from '../runtime/index.ts';
import { signingPolicyRule } from '../runtime/signing-policy-file.ts';
import type { ServiceConfig } from './service-config.ts';

/** How often a running service looks whether its policy file changed: a stat, never a read. */
const LOOK_EVERY_MS = 1_000;

/** What tells one version of the file from another without reading it (a file replaced by a rename has a new inode). */
const stampOf = (file: string): string => {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'absent';
  }
};

export interface ServiceSigningPolicy {
  readonly policy: RequestSigningPolicy;
  /**
   * Says at info which policy is in force once `log` gives a logger, then at warn, once, when the file changes: the
   * service holds the policy it read at start (the engine and the audit trail alike), so a change takes effect at the
   * next start. Returns what stops the looking.
   */
  watch(log: () => FastifyBaseLogger | undefined): () => void;
}

/**
 * The request-signing policy of `config.signing`, read when the service starts (the file may have changed since the
 * configuration was loaded); a `validation` error naming the field and each problem when it is unusable.
 */
export const signingPolicyOf = (config: ServiceConfig): ServiceSigningPolicy | undefined => {
  const file = config.signing;
  if (file === undefined) return undefined;
  // Before the read: a change made while it reads is seen as a change, never missed.
  const stamp = stampOf(file);
  const read = readSigningPolicyFile(file);
  if (!read.ok) {
    const rule = signingPolicyRule(read);
    const issues = read.problems.map((message) => ({ path: 'signing', rule, message }));
    throw validationError(issues, 'service configuration');
  }
  const { policy } = read;
  return { policy, watch: (log) => watchPolicyFile(file, stamp, policy, log) };
};

const watchPolicyFile = (file: string, readStamp: string, policy: RequestSigningPolicy, log: () => FastifyBaseLogger | undefined): (() => void) => {
  let inForceSaid = false;
  const timer = setInterval(() => {
    const logger = log();
    if (logger === undefined) return;
    if (!inForceSaid) {
      inForceSaid = true;
      // How many keys and what they are for, never a key: enough to tell which version of the file is in force.
      const retiredKeys = policy.keys.filter((k) => k.retiredAt !== undefined).length;
      const require = policy.require === 'all' || policy.require === 'none' ? policy.require : policy.require.length;
      logger.info({ signing: file, audience: policy.audience, keys: policy.keys.length, retiredKeys, require }, 'request-signing policy in force');
    }
    if (stampOf(file) === readStamp) return;
    logger.warn(
      { signing: file },
      'the request-signing policy file changed since the service read it at start: the change (a key retired or added, ' +
        'another audience or requirement) takes effect only at the next start; restart the service to apply it',
    );
    // Said once: the file is not read again, and a warning each second would bury the log.
    clearInterval(timer);
  }, LOOK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
};
