import { expect } from 'vitest';
import { isCredenceError, type FieldIssue } from '../../domain/errors.ts';

/**
 * The first issue of a rejection, after checking that no PIN is anywhere in the error: a `validation` refusal's first
 * issue, or a `secure_environment_unavailable` one as an issue (review 144: a token gone, a session lost, a PIN
 * refused after open are the service's condition, no longer `validation`), its path where the operator acts: the PIN's
 * source for a PIN refused, else the token; or a `secure_environment_unsupported` one (a mechanism the token lacks,
 * path `mechanism`; a template it refuses, path `token`).
 */
export const rejection = async (run: () => Promise<unknown>, pins: readonly string[] = []): Promise<FieldIssue | undefined> => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  const codes = ['validation', 'secure_environment_unavailable', 'secure_environment_unsupported'];
  if (!isCredenceError(error) || !codes.includes(error.problem.code)) throw new Error(`expected one of ${codes.join(', ')}, got ${String(error)}`);
  for (const pin of pins) expect(`${error.message} ${JSON.stringify(error.problem)} ${error.stack}`).not.toContain(pin);
  const { problem } = error;
  if (problem.code === 'validation') return problem.issues[0];
  if (problem.code === 'secure_environment_unsupported') {
    return { path: problem.reason === 'mechanism_unsupported' ? 'mechanism' : 'token', rule: problem.reason, message: problem.message };
  }
  if (problem.code !== 'secure_environment_unavailable') throw new Error(`unexpected ${problem.code}`);
  return { path: problem.reason.startsWith('pin_') ? 'pin-source' : 'token', rule: problem.reason, message: problem.message };
};
