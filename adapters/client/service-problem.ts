import { PROBLEM_TYPE_BASE } from '../http/problem-type-base.ts';
import { ProblemResponse } from './http.ts';

/**
 * Whether `error` is a problem answer of the Credence service itself: one of its own problem types
 * (adapters/http/problem-type-base.ts), the one of `code` when named. A gateway's or proxy's answer of the same status
 * (an HTML page, `about:blank`, another type) is no word of the service's on what was asked, whatever its status says.
 */
export const isServiceProblem = (error: unknown, code?: string): error is ProblemResponse =>
  error instanceof ProblemResponse &&
  (code === undefined ? error.problem.type.startsWith(PROBLEM_TYPE_BASE) : error.problem.type === `${PROBLEM_TYPE_BASE}${code}`);
