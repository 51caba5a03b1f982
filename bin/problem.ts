import type { ProblemDocument } from '../adapters/client/http.ts';
import { stringifyJson } from '../domain/json-limits.ts';
import type { Io } from './io.ts';
import { printable } from './printable.ts';

/** Members every problem has; the rest (the current state, what it allows, a retry hint...) are printed by name. */
const STANDARD = new Set(['type', 'title', 'status', 'detail', 'instance', 'errors']);

const asText = (value: unknown): string => printable(typeof value === 'string' ? value : stringifyJson(value));

/**
 * A server's refusal (RFC 9457) for a person: the title and status, the detail, every field the validation
 * refused with its path, and any extension member (e.g. `state` and `allowed` of an illegal transition). Everything
 * the server wrote is passed through `printable`.
 */
export const printProblem = (io: Io, status: number, problem: ProblemDocument): void => {
  io.err(`refused: ${printable(problem.title)} (${status})`);
  if (problem.detail !== undefined && problem.detail !== '') io.err(`  ${printable(problem.detail)}`);
  const errors = problem['errors'];
  if (Array.isArray(errors)) {
    for (const issue of errors as { path?: unknown; message?: unknown; rule?: unknown }[]) {
      const path = typeof issue.path === 'string' && issue.path !== '' ? printable(issue.path) : '(body)';
      io.err(`  ${path}: ${asText(issue.message ?? issue.rule ?? 'invalid')}`);
    }
  }
  for (const [key, value] of Object.entries(problem)) {
    if (!STANDARD.has(key) && value !== undefined) io.err(`  ${printable(key)}: ${asText(value)}`);
  }
};
