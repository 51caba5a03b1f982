import type { ProblemDocument } from '../adapters/client/http.ts';
import { stringifyJson } from '../domain/json-limits.ts';
import type { Io } from './io.ts';

/** Members every problem has; the rest (the current state, what it allows, a retry hint...) are printed by name. */
const STANDARD = new Set(['type', 'title', 'status', 'detail', 'instance', 'errors']);

/** C0 controls, DEL and C1 controls: what a terminal may take for the start of an escape sequence. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/** The same, less what JSON.stringify already escapes (C0): DEL and C1, which it writes as they are. */
const UNESCAPED_IN_JSON = /[\u007f-\u009f]/g;
const escaped = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Text a server gave, made safe to write to the operator's terminal: every control character shown as a `\u001b`
 * escape. Found in review: a refusal's title and detail were printed raw, so a server could write ESC and OSC
 * sequences (a retitled window, a hidden line, a link that says one thing and opens another) and line breaks that
 * pass for the CLI's own output.
 */
export const printable = (text: string): string => text.replace(CONTROLS, escaped);

/**
 * JSON text (bin/io.ts `json`) made safe for a terminal the same way. JSON.stringify escapes C0 controls but writes DEL
 * and C1 controls as they are; those can only stand inside strings, where `\u009b` is the same character, so the
 * JSON still parses to the same value.
 */
export const printableJson = (text: string): string => text.replace(UNESCAPED_IN_JSON, escaped);

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
