import { isCredenceError, type FieldIssue } from '../../domain/errors.ts';

/** The first field issue of the validation refusal `run` throws; anything else it throws passes, and none fails. */
export const firstIssueOf = (run: () => unknown): FieldIssue | undefined => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues[0];
    throw error;
  }
  throw new Error('expected a refusal');
};
