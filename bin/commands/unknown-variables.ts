import type { Io } from '../io.ts';
import { UsageError } from '../program.ts';
import { unknownVariables } from './variable-slips.ts';

/**
 * Refuses a local command that acts on a data folder and may be given --config (export and key without it) when a
 * set `CREDENCE_*` variable is one no part of Credence reads, before anything is opened or made: bad usage (exit 2),
 * one line per variable naming it and the nearest known name, never its value, as `credence serve` refuses it
 * (review 123: the check saw only the variables these commands read, so `CREDENCE_DATA_DIR` went unsaid). The
 * commands that load the service's configuration (token, ca, export and key with --config) have it checked there
 * (loadServiceConfig's `environment`). The PIN variable a pkcs11: CREDENCE_SECURE_ENVIRONMENT names is known.
 */
export const refuseUnknownVariables = async (io: Io): Promise<void> => {
  const unknown = await unknownVariables(io);
  if (unknown.length === 0) return;
  const { unknownVariableIssue } = await import('../../adapters/http/credence-environment.ts');
  throw new UsageError(unknown.map(unknownVariableIssue).map((i) => `${i.path}: ${i.message}`));
};

/**
 * Warns of them instead, for the commands that only read a folder that exists (replay, history, state, query,
 * projections, verify --data): they make nothing a misspelt variable could misplace, and take no --config, so the PIN
 * variable a service's --config file names (`pin-source=env:CREDENCE_HSM_PIN`) cannot be told known here: refused,
 * it stopped every read beside an HSM service (review 125). The warning says so rather than that nothing reads it.
 */
export const warnOfUnknownVariables = async (io: Io): Promise<void> => {
  for (const { name, near } of await unknownVariables(io)) {
    io.err(
      `warning: env ${name}: not a setting this command reads, and it goes on without it` +
        (near === undefined ? ' (a PIN variable a --config file of the service names is read by the service alone)' : `: did you mean ${near}?`),
    );
  }
};
