import { distance } from 'fastest-levenshtein';
import type { FieldIssue } from '../../domain/errors.ts';
import { parsePkcs11Uri } from '../runtime/index.ts';

/**
 * The `CREDENCE_*` variables read elsewhere than the service configuration (CONFIG_ENV, LIMITS_ENV), each with who
 * reads it: a start refuses every other one, so each variable read anywhere must be named here.
 */
export const OTHER_CREDENCE_ENV = [
  // The embedded Secure Environment's KEK outside the data folder: adapters/runtime/kek-file.ts (serve, token, ca, export).
  'CREDENCE_KEK_FILE',
  // The PKCS#11 PIN when the URI names no pin-source: adapters/driven/secure-environment/pkcs11/pin-source.ts.
  'CREDENCE_PKCS11_PIN',
  // The CLI's server, bearer token and answer timeout: bin/commands/options.ts, bin/commands/device/server-options.ts.
  'CREDENCE_URL',
  'CREDENCE_TOKEN',
  'CREDENCE_TIMEOUT',
  // Test and bench only, in the environment of a run that may start the service: test/crash-durability.test.ts,
  // bench/crash.ts (rounds, seed); test/fuzz/settings.ts (seed, runs, path, report); test/support/softhsm.ts,
  // bench/hsm.ts (the SoftHSM2 module path).
  'CREDENCE_CRASH_ROUNDS',
  'CREDENCE_CRASH_SEED',
  'CREDENCE_FUZZ_SEED',
  'CREDENCE_FUZZ_RUNS',
  'CREDENCE_FUZZ_PATH',
  'CREDENCE_FUZZ_REPORT',
  'CREDENCE_TEST_PKCS11_MODULE',
] as const;

const PREFIX = 'CREDENCE_';

/** Said when no known name is close: the variables there are, and where the others (limits, tokens, ...) are set. */
const NO_NEAR_NAME = 'the settings and their variables are in docs/service.md; those without one are set in the file of --config';

/** The known name nearest `name`, when close enough to be a slip: at most half of what follows the prefix, or 2. */
const nearest = (name: string, known: readonly string[]): string | undefined => {
  const upper = name.toUpperCase();
  const within = Math.max(2, Math.floor((upper.length - PREFIX.length) / 2));
  let best: { name: string; d: number } | undefined;
  for (const candidate of known) {
    const d = distance(upper, candidate);
    if (d <= within && (best === undefined || d < best.d)) best = { name: candidate, d };
  }
  return best?.name;
};

/** The variable a `pkcs11:` setting's `pin-source=env:NAME` reads its PIN from: the operator named it, so it is known. */
const pinVariableOf = (secureEnvironment: unknown): string | undefined => {
  if (typeof secureEnvironment !== 'string' || secureEnvironment === 'embedded') return undefined;
  try {
    const { pin } = parsePkcs11Uri(secureEnvironment);
    return pin.source === 'env' ? pin.name : undefined;
  } catch {
    return undefined; // refused with its own issue by the configuration's schema
  }
};

/** A set `CREDENCE_*` variable nothing reads, and the known name nearest it when close enough to be a slip. */
export interface UnknownVariable {
  readonly name: string;
  readonly near?: string;
}

/**
 * Each `CREDENCE_*` variable set that nothing reads (review 119: `CREDENCE_DATA_DIR` was ignored and the service made
 * a new ./data, with a new Secure Environment and log key), with the nearest known name. The prefix is matched in any
 * case, so `credence_data` is named too. Only names, never a value (it may be a secret). An empty variable sets
 * nothing, as an empty known one is unset: it is let be.
 */
export const unknownVariables = (
  env: Readonly<Record<string, string | undefined>>,
  settings: readonly string[],
  secureEnvironment: unknown,
): UnknownVariable[] => {
  const pinVariable = pinVariableOf(secureEnvironment);
  const known = [...settings, ...OTHER_CREDENCE_ENV].filter((name) => name.startsWith(PREFIX));
  return Object.keys(env)
    .filter((name) => name.toUpperCase().startsWith(PREFIX) && env[name] !== undefined && env[name] !== '')
    .filter((name) => !known.includes(name) && name !== pinVariable)
    .sort()
    .map((name) => {
      const near = nearest(name, known);
      return near === undefined ? { name } : { name, near };
    });
};

/** One refusal issue per unknown variable (unknownVariables), naming it and the nearest known name. */
export const unknownVariableIssue = ({ name, near }: UnknownVariable): FieldIssue => ({
  path: `env ${name}`,
  rule: 'unknown_variable',
  message: `unknown setting, no part of Credence reads it: ${near === undefined ? NO_NEAR_NAME : `did you mean ${near}?`}`,
});
