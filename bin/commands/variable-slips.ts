import type { UnknownVariable } from '../../adapters/http/credence-environment.ts';
import type { Io } from '../io.ts';

/** The `CREDENCE_*` variables set that no part of Credence reads (unknown-variables.ts refuses or warns of them). */
export const unknownVariables = async (io: Io): Promise<UnknownVariable[]> => {
  const env = io.env ?? process.env;
  const { unknownSettingVariables } = await import('../../adapters/http/config.ts');
  return unknownSettingVariables(env, env['CREDENCE_SECURE_ENVIRONMENT'] || undefined);
};

/**
 * For a command that found no server or token: each `CREDENCE_*` variable set that nothing reads and is a slip of one
 * of `meant` (CREDENCE_URL, CREDENCE_TOKEN), one line naming it and the name meant, as refuseUnknownVariables says it,
 * never its value (review 295: `CREDENCE_ULR` went unsaid beside "--server: required", which `history` warns of).
 */
export const slipsOf = async (io: Io, meant: readonly string[]): Promise<string[]> => {
  const slips = (await unknownVariables(io)).filter(({ near }) => near !== undefined && meant.includes(near));
  if (slips.length === 0) return [];
  const { unknownVariableIssue } = await import('../../adapters/http/credence-environment.ts');
  return slips.map(unknownVariableIssue).map((i) => `${i.path}: ${i.message}`);
};
