import { assertWitnessUsable } from '../../adapters/runtime/checkpoint-witness-file.ts';
import { isCredenceError } from '../../domain/errors.ts';
import { UsageError } from '../program.ts';

/** Where a setting came from, as loadServiceConfig names it: `flag --host`, `env CREDENCE_HOST`, or its default. */
export const settingSource = (flag: string, flagValue: string | undefined, envName: string, env: NodeJS.ProcessEnv): string => {
  if (flagValue !== undefined) return `flag ${flag}`;
  if (env[envName] !== undefined && env[envName] !== '') return `env ${envName}`;
  return `${flag} (default)`;
};

export interface PublicUrlSources {
  /** Where the host listened on came from (`flag --host`, `env CREDENCE_HOST`). */
  readonly host: string;
  /** Where the public URL came from, when one was given. */
  readonly publicUrl: string | undefined;
}

/**
 * The refusal of a wildcard host without a reachable public URL (adapters/http/public-url.ts), known only once the
 * service has loaded its issuing CAs, is a bad setting like any refused by loadServiceConfig: bad usage (exit 2,
 * README 'CLI exit codes'), naming the setting at fault and where it came from. Any other error is returned as it was.
 */
export const publicUrlRefusalAsUsage = (error: unknown, sources: PublicUrlSources): unknown => {
  const issues = isCredenceError(error, 'validation') && error.problem.code === 'validation' ? error.problem.issues : [];
  if (issues.length === 0 || !issues.every((i) => i.rule === 'public_url_for_wildcard_host')) return error;
  // A public URL given is the setting at fault; without one, the wildcard host is what made it needed.
  return new UsageError(issues.map((i) => (sources.publicUrl !== undefined ? `${sources.publicUrl}: ${i.message}` : `${sources.host}: publicUrl ${i.message}`)));
};

/**
 * The checkpoint witness's setting checked before anything opens (assertWitnessUsable): one the service cannot keep a
 * copy under is bad usage (exit 2) naming where it came from, as every other bad setting is, and never the exit 1 of a
 * log refused against its witness, which a supervisor must tell apart from a typo (review 106).
 */
export const assertWitnessSetting = (witness: string | undefined, data: string, source: string): void => {
  if (witness === undefined) return;
  try {
    assertWitnessUsable(witness, data);
  } catch (error) {
    const issues = isCredenceError(error, 'validation') && error.problem.code === 'validation' ? error.problem.issues : [];
    if (issues.length === 0) throw error;
    throw new UsageError(issues.map((i) => `${source}: ${i.message}`));
  }
};

/** Where the witness setting came from, as loadServiceConfig ranks its sources: flag, environment, the --config file. */
export const witnessSource = (flagValue: string | undefined, env: NodeJS.ProcessEnv, configFile: string | undefined): string => {
  if (flagValue !== undefined) return 'flag --checkpoint-witness';
  if ((env['CREDENCE_CHECKPOINT_WITNESS'] ?? '') !== '') return 'env CREDENCE_CHECKPOINT_WITNESS';
  return `file ${configFile ?? '(none)'}: checkpointWitness`;
};
