import { isCredenceError } from '../../domain/errors.ts';

/**
 * The first field issue of the validation refusal `run` throws, or undefined when it throws nothing; any other error
 * is thrown on, so a test of a refusal never passes on a crash.
 */
export const firstValidationIssue = (run: () => unknown): { path: string; rule: string; message: string } | undefined => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error) && error.problem.code === 'validation') return error.problem.issues[0];
    throw error;
  }
  return undefined;
};
