import { CredenceError } from '../../domain/errors.ts';
import { parseRequestSigningPolicy } from '../../domain/signing/index.ts';

/** The validation issues `parseRequestSigningPolicy` refuses `input` with; [] when it accepts it. */
export const issuesOf = (input: unknown) => {
  try {
    parseRequestSigningPolicy(input);
  } catch (error) {
    if (error instanceof CredenceError && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  return [];
};
