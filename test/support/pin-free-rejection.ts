import { expect } from 'vitest';
import { isCredenceError } from '../../domain/errors.ts';

/** The first validation issue of a rejection, after checking that no PIN is anywhere in the error. */
export const rejection = async (run: () => Promise<unknown>, pins: readonly string[] = []) => {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw new Error(`expected a validation error, got ${String(error)}`);
  for (const pin of pins) expect(`${error.message} ${JSON.stringify(error.problem)} ${error.stack}`).not.toContain(pin);
  return error.problem.issues[0];
};
