import { isCredenceError } from '../../domain/errors.ts';

/** Runs a protocol step that must be refused; the refusal's step, reason and message (anything else fails the test). */
export const refusalWithMessage = async (run: () => Promise<unknown>): Promise<{ step: string; reason: string; message: string }> => {
  try {
    await run();
  } catch (error) {
    if (isCredenceError(error, 'protocol') && error.problem.code === 'protocol') return { step: error.problem.step, reason: error.problem.reason, message: error.message };
    throw error;
  }
  throw new Error('expected a protocol refusal');
};

/** The same, step and reason only (for exact comparisons). */
export const refusal = async (run: () => Promise<unknown>): Promise<{ step: string; reason: string }> => {
  const { step, reason } = await refusalWithMessage(run);
  return { step, reason };
};
