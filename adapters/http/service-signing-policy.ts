import { validationError } from '../../domain/errors.ts';
import type { RequestSigningPolicy } from '../../domain/signing/index.ts';
import { readSigningPolicyFile } from '../runtime/index.ts';
import type { ServiceConfig } from './service-config.ts';

/**
 * The request-signing policy of `config.signing`, read when the service starts (the file may have changed since the
 * configuration was loaded); a `validation` error naming the field and each problem when it is unusable.
 */
export const signingPolicyOf = (config: ServiceConfig): RequestSigningPolicy | undefined => {
  if (config.signing === undefined) return undefined;
  const read = readSigningPolicyFile(config.signing);
  if (read.ok) return read.policy;
  const issues = read.problems.map((message) => ({ path: 'signing', rule: 'signing_policy', message }));
  throw validationError(issues, 'service configuration');
};
