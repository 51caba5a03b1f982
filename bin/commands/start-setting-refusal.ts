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
