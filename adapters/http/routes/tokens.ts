import { z } from 'zod';
import { isCredenceError, validationError } from '../../../domain/errors.ts';
import { RoleSchema, TOKEN_REFUSALS, TOKEN_STATES, TokenId, TokenSubject, tokenSummaryJson } from '../auth/access-control.ts';
import { ACCESS } from '../auth/roles.ts';
import { tokenPageCursor } from '../auth/token-page-cursor.ts';
import { HttpProblem, unauthenticated } from '../problems.ts';
import { QueryFlag, QueryWholeNumberOr } from '../query-values.ts';
import { Ttl } from '../auth/ttl.ts';
import { MAX_SCOPE_ENTRIES, TokenScope } from '../auth/token-scope.ts';
import type { RouteModule } from '../context.ts';

/** A scope as listed and returned (what access.db recorded; checked when it was issued). */
const ScopeJson = z
  .object({ subscriptions: z.array(z.string()).readonly().optional(), appIds: z.array(z.string()).readonly().optional() })
  .describe('The stakeholders its event stream is limited to (SER-025); absent: the whole fleet');

const IssuedToken = z.object({
  token: z.string().describe('The bearer token; shown once, kept nowhere by the service'),
  tokenId: z.string(),
  subject: z.string(),
  role: RoleSchema,
  expiresAt: z.string().describe('ISO 8601'),
  scope: ScopeJson.optional(),
});

const TokenSummary = z.object({
  tokenId: z.string(),
  subject: z.string(),
  role: RoleSchema.optional().describe('absent only with `recordDamaged`: access.db names a role this version does not know'),
  issuedAt: z.string().optional().describe('ISO 8601; absent only with `recordDamaged` (access.db\'s time does not read)'),
  expiresAt: z.string().optional().describe('ISO 8601; absent only with `recordDamaged` (access.db\'s time does not read)'),
  issuedBy: z.string(),
  issuedWith: z.string().optional().describe('the token it was issued with (through the service): its revocation ends this one too'),
  scope: ScopeJson.optional(),
  scopeDamaged: z.literal(true).optional().describe("access.db's scope of it does not read (damaged, or edited by hand): the token is refused; revoke it"),
  recordDamaged: z
    .literal(true)
    .optional()
    .describe("access.db's role or one of its times of it does not read (a newer version's role, damaged, or edited by hand): left out, and the token is refused; revoke it"),
  revokedAt: z.string().optional().describe('ISO 8601; absent on a revoked token only with `recordDamaged`'),
  revokedBy: z.string().optional(),
  state: z
    .enum(TOKEN_STATES)
    .describe(
      '`refused`: neither expired nor revoked, yet every request with it gets 401 (`refusedBecause` says why); it counts against neither ' +
        "its subject's `tokens.maxActivePerSubject` nor its signing key's live tokens (but one `issued_in_the_future`, good once its time " +
        'comes); revoke it',
    ),
  refusedBecause: z
    .enum(TOKEN_REFUSALS)
    .optional()
    .describe(
      'with state `refused` only: `record_damaged` (see `recordDamaged`), `scope_damaged` (see `scopeDamaged`), `lifetime_too_long` ' +
        '(issued for longer than `tokens.maxTtlSeconds` now allows), `reserved_subject` (a subject no token may carry) or ' +
        '`issued_in_the_future` (issued later than the service\'s clock reads: refused until then)',
    ),
});

/** `DELETE /v1/tokens/{tokenId}`'s answer for a token revoked already (a fresh revocation is 204 alone). */
const RevokedAlready = z.object({
  tokenId: z.string(),
  revokedBefore: z.string().optional().describe("ISO 8601: when it was revoked; absent only when access.db's time of it does not read (`recordDamaged`)"),
  chained: z.number().int().nonnegative().describe('the tokens issued with it down the chain, still live, that this revocation ended'),
}).describe('Revoked already: the first revocation is kept');

const ListQuery = z.strictObject({
  limit: QueryWholeNumberOr(1, 1_000, 100),
  after: tokenPageCursor().optional(),
  includeExpired: QueryFlag(false),
});

/**
 * Access management for admins (issue 12): issue, list and revoke API tokens; and, for every holder, signing out
 * (their own token revoked). The token string is in the issue response only (`Cache-Control: no-store`, RFC 6749
 * §5.1); listings show ids, subjects, roles and expiry.
 */
export const tokenRoutes: RouteModule = (app, context) => {
  const { access } = context;
  const IssueBody = z.strictObject({
    subject: TokenSubject,
    role: RoleSchema,
    ttl: Ttl(access.maxTtlSeconds).describe('Lifetime: seconds, or a count with s, m, h or d (e.g. "24h")'),
    scope: TokenScope.optional().describe("An integrator's: `subscriptions` (M2M-Sub-IDs) and/or `appIds`; absent: the whole fleet"),
  });
  /** Whether a refusal's path names a member of the issue request's body (then said as the body's). */
  const fromBody = (path: string): boolean => Object.hasOwn(IssueBody.shape, path.split('.')[0] ?? '');

  app.post(
    '/v1/tokens',
    {
      config: { access: ACCESS.tokens },
      schema: {
        summary: 'Issue an API token',
        description:
          'Issues a token for `subject` with `role`, shown once (201). 400 `validation` naming `body.ttl` for a lifetime past ' +
          '`tokens.maxTtlSeconds` or past the caller\'s own token, and `body.subject` (rule `active_tokens`) once the subject ' +
          'holds `tokens.maxActivePerSubject` tokens neither expired nor revoked: nothing is recorded. An integrator token may ' +
          `have a \`scope\` (SER-025): its event stream then publishes only those M2M subscriptions' nodes and those App-IDs' ` +
          `applications (at most ${MAX_SCOPE_ENTRIES} of each). \`body.scope\` is refused on another role (rule \`scope_integrator_only\`) ` +
          'and when it names nothing (rule `empty_scope`); nothing is recorded then either.',
        tags: ['access'],
        body: IssueBody,
        response: { 201: IssuedToken },
      },
    },
    async (request, reply) => {
      const { subject, role, ttl, scope } = request.body;
      const { subject: issuedBy, tokenId, expiresAt, scope: issuerScope } = request.principal!;
      const issuer = { tokenId, expiresAt, ...(issuerScope !== undefined ? { scope: issuerScope } : {}) };
      const issued = await access
        .issue({ subject, role, ttlSeconds: ttl, issuedBy, issuer, ...(scope !== undefined ? { scope } : {}) })
        .catch((error: unknown) => {
          // The caller's token was revoked while its request was read: nothing was issued.
          if (isCredenceError(error, 'unauthorised') && error.problem.code === 'unauthorised') throw unauthenticated(error.problem.reason);
          // The request's fields, named as the body's (the lifetime checked against the caller's own token); a path
          // the body did not produce (`access.db: signingKey`, a Secure Environment's) as it is (review 144).
          if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
          throw validationError(error.problem.issues.map((i) => (fromBody(i.path) ? { ...i, path: `body.${i.path}` } : i)), 'token request');
        });
      request.log.info({ tokenId: issued.tokenId, subject, role, scoped: scope !== undefined }, 'token issued');
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...issued, expiresAt: issued.expiresAt.toISOString() });
    },
  );

  app.get(
    '/v1/tokens',
    {
      config: { access: ACCESS.tokens },
      schema: {
        summary: 'List issued tokens (never the tokens themselves)',
        tags: ['access'],
        querystring: ListQuery,
        response: { 200: z.object({ tokens: z.array(TokenSummary), next: z.string().optional() }) },
      },
    },
    async (request) => {
      const { limit, after, includeExpired } = request.query;
      const page = access.list({ limit, includeExpired, ...(after !== undefined ? { after } : {}) });
      return {
        tokens: page.tokens.map(tokenSummaryJson),
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    },
  );

  app.delete(
    '/v1/tokens/:tokenId',
    {
      config: { access: ACCESS.tokens },
      schema: {
        summary: 'Revoke a token, and the tokens issued with it: later requests with any of them get 401',
        description:
          '204: revoked now, with every token issued with it through the service, down the chain. 200: it was revoked ' +
          'already, which is no error: the first revocation is kept, `revokedBefore` says when it was made, and `chained` ' +
          'counts the tokens issued with it, still live, that this revocation ended (a token signed out alone with ' +
          '`DELETE /v1/session` leaves them). 404 `not_found` for an unknown id.',
        tags: ['access'],
        params: z.strictObject({ tokenId: TokenId }),
        response: { 200: RevokedAlready, 204: z.undefined().describe('Revoked now') },
      },
    },
    async (request, reply) => {
      const { tokenId } = request.params;
      const revoked = access.revokeChain(tokenId, request.principal!.subject);
      if (revoked === undefined) throw new HttpProblem(404, 'not_found', `token ${tokenId} does not exist`, { tokenId });
      const chained = revoked.filter((id) => id !== tokenId).length;
      request.log.info({ tokenId, chained }, revoked.includes(tokenId) ? 'token revoked' : 'token revoked already');
      if (revoked.includes(tokenId)) return reply.code(204).send();
      // Review 186: a 204 here too made `credence token revoke --server` say it revoked a token revoked long before.
      const before = access.revokedAt(tokenId);
      return reply.code(200).send({ tokenId, ...(before !== undefined ? { revokedBefore: before.toISOString() } : {}), chained });
    },
  );

  app.delete(
    '/v1/session',
    {
      config: { access: ACCESS.session },
      schema: {
        summary: 'Sign out: revoke the bearer token this request carries',
        description:
          'Ends the caller\'s own token at once, whatever its role: later requests with it get 401, and the event streams it ' +
          'holds end. A console or script that signs out leaves no token behind that stays valid until it expires.',
        tags: ['access'],
        response: { 204: z.undefined().describe('Revoked') },
      },
    },
    async (request, reply) => {
      const { tokenId, subject } = request.principal!;
      // The token was verified for this request, so its record exists; a revocation racing this one keeps the first.
      // This token alone: tokens an admin issued with it for others stand (found in review: a sign-out revoked them).
      access.revoke(tokenId, subject, { alone: true });
      request.log.info({ tokenId }, 'token revoked by its holder (sign-out)');
      return reply.code(204).send();
    },
  );
};
