import type { Io } from '../io.ts';
import { UsageError } from '../program.ts';

/**
 * Refuses a local command on a data folder (replay, history, state, query, projections, verify --data, export and key
 * without --config) when a set `CREDENCE_*` variable is one no part of Credence reads, before anything is opened or
 * made: bad usage (exit 2), one line per variable naming it and the nearest known name, never its value, as `credence
 * serve` refuses it (review 123: the check saw only the variables these commands read, so `CREDENCE_DATA_DIR` went
 * unsaid). The commands that load the service's configuration (token, ca, export and key with --config) have it
 * checked there (loadServiceConfig's `environment`). The PIN variable a pkcs11: CREDENCE_SECURE_ENVIRONMENT names is
 * known.
 */
export const refuseUnknownVariables = async (io: Io): Promise<void> => {
  const env = io.env ?? process.env;
  const { unknownSettingVariables } = await import('../../adapters/http/config.ts');
  const issues = unknownSettingVariables(env, env['CREDENCE_SECURE_ENVIRONMENT'] || undefined);
  if (issues.length > 0) throw new UsageError(issues.map((i) => `${i.path}: ${i.message}`));
};
