import type { ProblemDocument } from '../adapters/client/http.ts';
import { stringifyJson } from '../domain/json-limits.ts';
import type { Io } from './io.ts';
import { printable } from './printable.ts';

/** Members every problem has; the rest (the current state, what it allows, a retry hint...) are printed by name. */
const STANDARD = new Set(['type', 'title', 'status', 'detail', 'instance', 'errors']);

const asText = (value: unknown): string => printable(typeof value === 'string' ? value : stringifyJson(value));

type Issue = { path?: unknown; message?: unknown; rule?: unknown };

/**
 * The detail without the issues it repeats. The service writes a validation refusal's detail as `<what>: <path>:
 * <message>; …` (domain/errors.ts validationError, adapters/http/problems.ts), and each issue is printed below it with
 * its path: found in review 54, every issue came out twice. A detail that says anything else is printed whole; one
 * cut short by the client (answers.ts, ending in `…`) still loses the issues it began to repeat.
 */
const detailLead = (detail: string, issues: readonly Issue[]): string => {
  const texts = issues.map((i) => `${typeof i.path === 'string' && i.path !== '' ? i.path : '(root)'}: ${String(i.message ?? '')}`);
  if (texts.length === 0) return detail;
  const start = detail.indexOf(`: ${texts[0]}`);
  if (start <= 0) return detail;
  const rest = detail.slice(start + 2);
  const listed = texts.join('; ');
  const repeats = rest === listed || (rest.endsWith('…') && listed.startsWith(rest.slice(0, -1)));
  return repeats ? detail.slice(0, start) : detail;
};

/**
 * A server's refusal (RFC 9457) for a person: the title and status, the detail, every field the validation
 * refused with its path and rule, and any extension member (e.g. `state` and `allowed` of an illegal transition).
 * Everything the server wrote is passed through `printable`.
 */
export const printProblem = (io: Io, status: number, problem: ProblemDocument): void => {
  io.err(`refused: ${printable(problem.title)} (${status})`);
  const errors = problem['errors'];
  const issues = Array.isArray(errors) ? (errors as Issue[]) : [];
  if (problem.detail !== undefined && problem.detail !== '') io.err(`  ${printable(detailLead(problem.detail, issues))}`);
  for (const issue of issues) {
    const path = typeof issue.path === 'string' && issue.path !== '' ? printable(issue.path) : '(body)';
    // The rule too (review 205: it was shown with --json only), the name a person looks a refusal up by.
    const rule = typeof issue.rule === 'string' && issue.rule !== '' && issue.message !== undefined ? ` (rule ${printable(issue.rule)})` : '';
    io.err(`  ${path}: ${asText(issue.message ?? issue.rule ?? 'invalid')}${rule}`);
  }
  for (const [key, value] of Object.entries(problem)) {
    if (!STANDARD.has(key) && value !== undefined) io.err(`  ${printable(key)}: ${asText(value)}`);
  }
};
