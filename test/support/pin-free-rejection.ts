import { expect } from 'vitest';
import { isCredenceError, type FieldIssue } from '../../domain/errors.ts';

/**
 * The first issue of a rejection, after checking that no PIN is anywhere in the error: a `validation` refusal's first
 * issue, or a `secure_environment_unavailable` one as an issue (review 144: a token gone, a session lost, a PIN
 * refused after open are the service's condition, no longer `validation`), its path where the operator acts: the PIN's
 * source for a PIN refused, else the token.
 */
export const rejection = async (run: () => Promise<unknown>, pins: readonly string[] = []): Promise<FieldIssue | undefined> => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error) || (error.problem.code !== 'validation' && error.problem.code !== 'secure_environment_unavailable')) {
    throw new Error(`expected a validation or secure_environment_unavailable error, got ${String(error)}`);
  }
  for (const pin of pins) expect(`${error.message} ${JSON.stringify(error.problem)} ${error.stack}`).not.toContain(pin);
  const { problem } = error;
  if (problem.code === 'validation') return problem.issues[0];
  return { path: problem.reason.startsWith('pin_') ? 'pin-source' : 'token', rule: problem.reason, message: problem.message };
};
