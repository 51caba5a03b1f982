import { isCredenceError } from '../../domain/errors.ts';

/** The issues of the validation error `run` throws; a test failure when it throws none (accepted) or another error. */
export const validationIssuesOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  throw new Error('accepted: no validation error was thrown');
};
