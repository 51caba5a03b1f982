import { validationError, type FieldIssue } from '../../domain/errors.ts';
import type { App } from './context.ts';
import { repeatedParameters } from './repeated-query-parameters.ts';
import { queryParametersOf } from './route-query-parameters.ts';

type Rule = 'url_encoding' | 'utf8';

/** What a name or value read literally was wrong with; `name` when the name itself decoded. */
interface Malformed {
  readonly name: string | undefined;
  readonly rule: Rule;
}

const MESSAGE: Readonly<Record<Rule, string>> = {
  url_encoding: 'has a % not followed by two hexadecimal digits (RFC 3986 2.1)',
  utf8: 'has percent-escapes that are not UTF-8 (RFC 3986 2.5)',
};

/** The query objects the parser found malformed escapes in: the parser cannot refuse (the router calls it, and a throw there is no answer). */
const malformedIn = new WeakMap<object, readonly Malformed[]>();

const BARE_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/** `text` decoded as a form-encoded name or value (`+` a space), or the rule it breaks. */
const decoded = (text: string): { readonly text: string } | { readonly rule: Rule } => {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return { text: spaced };
  if (BARE_PERCENT.test(spaced)) return { rule: 'url_encoding' };
  try {
    return { text: decodeURIComponent(spaced) };
  } catch {
    return { rule: 'utf8' };
  }
};

/**
 * The router's query string parser (Fastify `routerOptions.querystringParser`): what Fastify's own (fast-querystring)
 * reads, `a=1&a=2` an array, a name without `=` an empty value, but a pair whose escapes do not decode is left out
 * and noted for refuseMalformedQueryEscapes. Fastify's kept it as sent (review 135: `?actor=%ZZ` looked for an actor named
 * `%ZZ` and answered 200 with no rows, where a body's bytes that are not UTF-8 are refused, rule `utf8`).
 */
export const parseQueryString = (text: string): Record<string, string | string[]> => {
  const query: Record<string, string | string[]> = Object.create(null);
  const malformed: Malformed[] = [];
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    const name = decoded(rawName);
    const value = decoded(equals === -1 ? '' : pair.slice(equals + 1));
    if ('rule' in name) malformed.push({ name: undefined, rule: name.rule });
    else if ('rule' in value) malformed.push({ name: name.text, rule: value.rule });
    if ('rule' in name || 'rule' in value) continue;
    const before = query[name.text];
    if (before === undefined) query[name.text] = value.text;
    else if (Array.isArray(before)) before.push(value.text);
    else query[name.text] = [before, value.text];
  }
  if (malformed.length > 0) malformedIn.set(query, malformed);
  return query;
};

/**
 * A route that reads a query refuses one with a malformed escape: 400 `validation`, the parameter named
 * (`query.actor`) when the route takes it (`query` otherwise: a name the caller chose is not echoed), rule
 * `url_encoding` for a `%` without two hex digits after it, `utf8` for escapes that are not UTF-8. Never the value.
 * After authentication, as a query's schema is; before the body is read. The clients build queries with
 * URLSearchParams or encodeURIComponent, which send neither. In the same answer, a parameter the route takes once sent
 * more than once, rule `repeated` (./repeated-query-parameters.ts): both are faults of the query string as sent, not
 * of a value, so they are judged here, ahead of every route's schema, and read alike on every route.
 */
export const refuseMalformedQueryEscapes = (app: App): void => {
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.routeOptions.schema?.querystring === undefined) return payload;
    const taken = queryParametersOf(request);
    const malformed = (malformedIn.get(request.query as object) ?? []).map(
      ({ name, rule }): FieldIssue => ({ path: name !== undefined && taken.has(name) ? `query.${name}` : 'query', rule, message: MESSAGE[rule] }),
    );
    const issues = [...malformed, ...repeatedParameters(request)];
    if (issues.length > 0) throw validationError(issues, 'query string');
    return payload;
  });
};
