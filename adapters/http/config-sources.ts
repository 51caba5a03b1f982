import { z } from 'zod';
import { validationError } from '../../domain/errors.ts';
import { issuesOf } from './config-issues.ts';
import { ServicePseudonyms } from './pseudonym-rotation-setting.ts';
import { ServiceConfig } from './service-config.ts';
import { ServiceLimitsConfig } from './service-limits-config.ts';
import { TokenConfig } from './token-config.ts';
import { TrustProxy } from './trust-proxy.ts';

/** What each source may set: the same fields, all optional, nothing else. */
const Partial = z.strictObject({
  ...ServiceConfig.shape,
  host: ServiceConfig.shape.host.unwrap().optional(),
  port: ServiceConfig.shape.port.unwrap().optional(),
  data: ServiceConfig.shape.data.unwrap().optional(),
  logLevel: ServiceConfig.shape.logLevel.unwrap().optional(),
  tickMs: ServiceConfig.shape.tickMs.unwrap().optional(),
  trustProxy: TrustProxy.optional(),
  entityCacheMiB: ServiceConfig.shape.entityCacheMiB.unwrap().optional(),
  pseudonyms: ServicePseudonyms.optional(),
  // The policy file is read once, for the merged setting (loadServiceConfig, review 434 M2): a file's broken path that
  // --signing or CREDENCE_SIGNING overrides is never read.
  signing: ServiceConfig.shape.signing.unwrap().optional(),
  limits: ServiceLimitsConfig.partial().optional(),
  tokens: TokenConfig.partial().optional(),
});
export type PartialConfig = z.infer<typeof Partial>;

export const parseSource = (input: unknown, where: (path: string) => string): PartialConfig => {
  const parsed = Partial.safeParse(input);
  if (!parsed.success) throw validationError(issuesOf(parsed.error, where), 'service configuration');
  return parsed.data;
};

export interface ConfigSources {
  /**
   * Command-line options by field name (`host`, `port`, `probePort`, `data`, `store`, `logLevel`, `tickMs`, `signing`, `secureEnvironment`, `publicUrl`, `trustProxy`, `checkpointWitness`;
   * undefined = not given); other keys (the command's own options) are ignored.
   */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A JSON file with any of the fields, `limits` and `tokens` included. */
  readonly file?: string;
  /**
   * Told what is accepted but unsafe (an event store password on the command line, or in a config file others may
   * read); the message never holds the secret. Nothing is said without it.
   */
  readonly warn?: (message: string) => void;
}
