import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { isCredenceError } from '../../../domain/errors.ts';
import type { App, RouteAccess } from '../context.ts';
import { BASELINE_STATIC_HEADERS, baselineHeaders } from '../baseline-headers.ts';
import { forbidden, HttpProblem, problemPayload, rateLimited, unauthenticated } from '../problems.ts';
import type { AccessControl, Principal } from './access-control.ts';
import { normalizeIP } from '@fastify/rate-limit';
import { RecentlyUsed } from './recently-used.ts';
import type { RefusedTokenBudget } from './refused-token-budget.ts';
import { otherScheme } from './authorization-scheme.ts';
import { ROLES } from './role.ts';

const describeAccess = (access: unknown): string | undefined => {
  if (access === 'public' || access === 'device') return undefined;
  if (!Array.isArray(access) || access.length === 0) return 'must be a non-empty list of roles, public or device';
  const unknown = access.filter((r) => !(ROLES as readonly unknown[]).includes(r));
  return unknown.length > 0 ? `names unknown roles: ${unknown.join(', ')}` : undefined;
};

/** A header that gives no bearer token to check, and for another scheme, its name when registered. */
type RefusedBearer = { readonly refused: 'missing' | 'empty' | 'malformed' | 'not_bearer'; readonly scheme?: string };
type BearerToken = { readonly token: string } | RefusedBearer;

const bearerToken = (header: string | undefined): BearerToken => {
  if (header === undefined) return { refused: 'missing' };
  // The scheme with nothing after it is what `-H "Authorization: Bearer $TOKEN"` sends when TOKEN is unset (found in
  // review: told `malformed`, a newcomer looked for a fault in a token that was never there). Node trims the space.
  if (/^bearer\s*$/i.test(header)) return { refused: 'empty' };
  // RFC 6750 §2.1: the scheme is case-insensitive; one space, then the token.
  const match = /^bearer +(\S+)\s*$/i.exec(header);
  if (match?.[1] !== undefined) return { token: match[1] };
  // Another scheme carries no bearer token at all: RFC 6750 §3.1, no error code for it (review 257: it was told
  // `malformed`, with `error="invalid_token"`). Named only when registered (authorization-scheme.ts).
  const other = otherScheme(header);
  if (other !== undefined) return { refused: 'not_bearer', ...(other.named !== undefined ? { scheme: other.named } : {}) };
  return { refused: 'malformed' };
};

/** What a refusal's detail adds, beyond its reason, to tell the caller what to mend. */
const hintOf = (bearer: RefusedBearer): string | undefined => {
  if (bearer.refused === 'empty') return 'Authorization: Bearer carries no token: an unset shell variable?';
  if (bearer.refused !== 'not_bearer') return undefined;
  const sent = bearer.scheme === undefined ? 'a scheme other than Bearer (a token sent without "Bearer " before it?)' : `the scheme ${bearer.scheme}`;
  return `Authorization carries ${sent}; this service takes Authorization: Bearer <token>`;
};

const refusedBearer = (bearer: RefusedBearer): HttpProblem => {
  const problem = unauthenticated(bearer.refused);
  const hint = hintOf(bearer);
  if (hint === undefined) return problem;
  return new HttpProblem(problem.status, problem.code, `${problem.message} (${hint})`, problem.extensions, problem.headers);
};

/** The methods whose answer is what was read (RFC 9110 9.2.1), checked again before it leaves. */
const READS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * Every route says who may call it (`config.access`); a route without it stops the server from starting, so no route
 * is open by omission. Authentication runs on request, before the rate limit (which keys on the principal it finds)
 * and before the body is read; a refusal is raised just before parsing, so a caller without a valid token never has
 * a body parsed. Missing, empty, malformed, expired, forged, unknown or revoked token, or another scheme: 401; a valid
 * token of a role the route does not allow: 403; an address whose tokens were refused too often in the window: 429, no token checked
 * but one verified lately or one naming a live token of access.db (one indexed read), until those refused as often.
 * Once the body is read the token is checked again: revoked or expired while the body was on its way, 401; and a
 * read's again before its answer leaves: revoked or expired while the route ran, 401 in its place.
 */
export const installAccessHook = (
  app: App,
  access: AccessControl,
  options: {
    readonly publicPrefixes: readonly string[];
    /** Tokens refused per address: past it, 429 before any token from there is checked (refused-token-budget.ts). */
    readonly refusedTokens: RefusedTokenBudget;
    /** A request refused so (429), to be counted once with the rate limit's own (protection.ts, countRateLimited). */
    readonly onRateLimited: (request: FastifyRequest) => void;
  },
): void => {
  app.decorateRequest('principal', undefined);
  const refusals = new WeakMap<FastifyRequest, HttpProblem>();
  /** A role route's read whose token passed once its body was read: the headers it had then, before its route ran. */
  const headersBeforeTheRoute = new WeakMap<FastifyRequest, ReadonlySet<string>>();
  /**
   * `<address> <token id>` -> until when (ms) tokens naming that id from that address are no longer let past its spent
   * budget: one naming it was refused there (forged, since ids are no secret: the log and `token list` show them).
   * At most 10,000 pairs: one forgotten buys its id one more check, which `pastBudgetKey` counts (review 279).
   */
  const forgedFrom = new RecentlyUsed<string, number>(10_000);
  /**
   * The budget's key for the tokens refused from an address past its spent budget: the budget again, across all ids,
   * so that the checks a forger buys there do not grow with the number of live tokens, whose ids are no secret
   * (review 279: 40 live tokens, budget 3, 40 checks a window). No address holds a space: the key is none's own.
   */
  const pastBudgetKey = (address: string): string => `${address} past-spent`;
  /** The id a token not verified lately names, when that lets it past its address's spent budget (review 273). */
  const pastSpentBudget = (address: string, token: string, waitSeconds: number): { readonly key: string; readonly until: number } | undefined => {
    // Spent too: no check, and no read of access.db either.
    if (options.refusedTokens.spent(pastBudgetKey(address)) !== undefined) return undefined;
    const id = access.liveTokenIdNamedBy(token);
    if (id === undefined) return undefined;
    const key = `${address} ${id}`;
    const now = Date.now();
    if ((forgedFrom.get(key) ?? 0) > now) return undefined;
    return { key, until: now + waitSeconds * 1_000 };
  };

  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { access?: RouteAccess };
    // `/docs` itself or below `/docs/`: a route `/docsX` (or `/docs-admin`) is not the docs page's and says who may call it.
    const underPublic = options.publicPrefixes.some((p) => route.url === p || route.url.startsWith(`${p}/`));
    if (config.access === undefined && underPublic) {
      // Routes of the documentation plugin (swagger-ui's static files): public by nature.
      route.config = { ...route.config, access: 'public' };
      return;
    }
    const problem = config.access === undefined ? 'has no config.access' : describeAccess(config.access);
    if (problem !== undefined) throw new Error(`route ${String(route.method)} ${route.url} ${problem}`);
  });

  app.addHook('onRequest', async (request) => {
    const allowed = request.routeOptions.config.access;
    if (allowed === undefined || allowed === 'public' || allowed === 'device') return;
    const bearer = bearerToken(request.headers.authorization);
    if ('refused' in bearer) {
      refusals.set(request, refusedBearer(bearer));
      return;
    }
    const { token } = bearer;
    // Past a spent budget a token gets its signature check only when it verified lately, or names a live token of
    // access.db (found in review: junk from one host behind a NAT locked every valid token there out; review 273:
    // after a restart, when this process had verified none, it still did). Junk names none: 429, no check.
    const address = normalizeIP(request.ip);
    const known = access.recognises(token);
    const wait = known ? undefined : options.refusedTokens.spent(address);
    const passing = wait === undefined ? undefined : pastSpentBudget(address, token, wait);
    if (wait !== undefined && passing === undefined) {
      options.onRateLimited(request);
      refusals.set(request, rateLimited(wait));
      return;
    }
    try {
      request.principal = await access.verify(token);
    } catch (error) {
      if (!isCredenceError(error, 'unauthorised') || error.problem.code !== 'unauthorised') throw error;
      if (!known) options.refusedTokens.refused(address);
      // A token let past the spent budget and refused counts as any refusal, though on a spent budget that lengthens
      // nothing: its id from there waits with the rest for the window's end, so that an id, which is no secret, buys
      // one signature check per address and window rather than one a request, and it counts against the address's
      // budget past the spent one, so that all ids together buy no more than the budget again (review 279). Its
      // holder there waits with it, and once that is spent so does every token not verified lately in this process.
      if (passing !== undefined) {
        forgedFrom.set(passing.key, passing.until);
        options.refusedTokens.refused(pastBudgetKey(address));
      }
      refusals.set(request, unauthenticated(error.problem.reason));
      return;
    }
    if (!allowed.includes(request.principal.role)) refusals.set(request, forbidden(request.principal.role, allowed));
  });

  app.addHook('preParsing', async (request, _reply, payload) => {
    const refusal = refusals.get(request);
    if (refusal !== undefined) throw refusal;
    return payload;
  });

  // The token was good when the headers came; the body may come up to requestTimeoutMs later, and a token revoked
  // or expired meanwhile must not act (found in review: a command held back until its token was revoked was still
  // recorded under it). Checked again once the body is read, before it is validated and before any handler: one
  // registry lookup, as the SSE heartbeat makes.
  app.addHook('preValidation', async (request, reply) => {
    const principal = request.principal;
    if (principal === undefined || !Array.isArray(request.routeOptions.config.access)) return;
    stillValid(access, principal, 'while the request was read')();
    if (READS.has(request.method)) headersBeforeTheRoute.set(request, new Set(Object.keys(reply.getHeaders())));
  });

  // And a read's once more before its answer leaves (review 367: a long read, a replay, a timeline, a compliance
  // export, an evidence bundle, whose token was revoked or expired while it ran still answered 200 with all it had
  // read). Every answer Fastify sends passes here, the serializer's and those written in turns past it
  // (json-in-turns.ts), before any byte of it is written; the event stream takes its socket over and is never sent so:
  // it checks its token itself (sse/session.ts). One registry lookup, once per request: the 401 sent instead passes
  // here unchecked. Not a write's answer: its command was checked when decided (tokenChecked), and its answer tells
  // what was done, a sign-out's the revocation of its own token. A refusal too (review 370: a 409 told the log's head,
  // a 404 whether an entity exists, to a token that no longer may ask), but a 401, which tells nothing read.
  app.addHook('onSend', async (request, reply, payload) => {
    const before = headersBeforeTheRoute.get(request);
    const principal = request.principal;
    if (before === undefined || principal === undefined) return payload;
    headersBeforeTheRoute.delete(request);
    // A 401 tells nothing read; a client gone has nothing to be told.
    if (reply.statusCode === 401 || reply.raw.destroyed) return payload;
    try {
      stillValid(access, principal, 'while the answer was prepared')();
    } catch (refusal) {
      if (payload instanceof Readable) payload.destroy();
      // Nothing of the answer: the headers the route (or the error handler) set for it, its type, caching, a file name,
      // a Retry-After, go with it; the service's own (its request id, the baseline) stay or are set again.
      const refused = reply.statusCode >= 400;
      for (const name of Object.keys(reply.getHeaders())) if (!before.has(name) && !(refused && SET_BEFORE_THIS_HOOK.has(name))) reply.removeHeader(name);
      // An answer's 401 is the error handler's. A refusal's is put in its place here: it already is the error
      // handler's answer, and a throw here would be Fastify's own (no problem+json). The same problem, serialised alike.
      if (!refused) throw refusal;
      baselineHeaders(request, reply);
      return problemPayload(reply, request, refusal);
    }
    return payload;
  });
};

/**
 * The headers the service's own onSend hook (server.ts) has set on every answer before this hook's (installed after
 * it): kept on a refusal replaced here, as that hook does not run again for it. `cache-control` is the baseline's
 * only when no route set one: it is set again (baselineHeaders).
 */
const SET_BEFORE_THIS_HOOK: ReadonlySet<string> = new Set(['x-request-id', 'connection', ...Object.keys(BASELINE_STATIC_HEADERS)]);

/**
 * A check that refuses `principal` (401, as the hook refuses) once its token is revoked or expired: one registry
 * lookup. The hook runs it once the body is read; a route that sends a command passes it to the engine as the
 * command's own admission check (`ExecuteOptions.admit`), run again in the command's stream lane right before it is
 * decided, since a command can wait there behind others of its stream while its token is revoked (found in review).
 */
export const stillValid = (access: Pick<AccessControl, 'remainingMs' | 'expired'>, principal: Principal, when: string) => (): void => {
  if (access.remainingMs(principal) > 0) return;
  // An expired token is told `expired`, as its verification tells it; a revocation is what comes `while` (review 32:
  // a token refused from the instant of its exp was told it was "revoked or expired while the request was read").
  throw unauthenticated(access.expired(principal) ? 'expired' : `revoked ${when}`);
};

/**
 * What a route passes with a command its principal sends: the token checked again when the command is decided, and
 * named (its id, who issued it and the token it was issued with, never the bearer token) in the events it records
 * (reviews 188, 196: an admin may issue a token under any subject, its own too, so neither the actor's id nor the
 * issuer's subject alone tells who acted).
 */
export const tokenChecked = (
  access: Pick<AccessControl, 'remainingMs' | 'expired'>,
  principal: Principal,
): { readonly admit: () => void; readonly token: { readonly id: string; readonly issuedBy: string; readonly issuedWith?: string } } => ({
  admit: stillValid(access, principal, 'while the command waited its turn'),
  token: { id: principal.tokenId, issuedBy: principal.issuedBy, ...(principal.issuedWith !== undefined ? { issuedWith: principal.issuedWith } : {}) },
});
