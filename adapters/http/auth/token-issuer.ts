import { z } from 'zod';
import { toBase64url } from '../../../domain/crypto/index.ts';
import { isCredenceError, unauthorised, validationError } from '../../../domain/errors.ts';
import type { Clock, RandomSource } from '../../../domain/ports/index.ts';
import type { AccessRegistry } from '../../runtime/index.ts';
import { signJwt, type JwtSettings } from './jwt.ts';
import type { IssuedToken, Principal } from './principal.ts';
import { RoleSchema, type Role } from './role.ts';
import type { SigningKeys } from './signing-keys.ts';
import { TokenSubject } from './token-ids.ts';
import { scopeIssues, TokenScope } from './token-scope.ts';

/** What `AccessControl.issue` is asked for. */
export interface TokenRequest {
  subject: string;
  role: Role;
  ttlSeconds: number;
  issuedBy: string;
  scope?: TokenScope;
  issuer?: Pick<Principal, 'tokenId' | 'expiresAt' | 'scope'>;
}

export interface TokenIssuerOptions {
  readonly registry: AccessRegistry;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly keys: SigningKeys;
  readonly settings: JwtSettings;
  readonly maxTtlSeconds: number;
  readonly maxActivePerSubject: number;
}

/** The rule of a zod issue: a custom refinement's own (`params.rule`) when it names one, else the issue's code. */
const ruleOf = (issue: z.core.$ZodIssue): string =>
  issue.code === 'custom' && typeof issue.params?.['rule'] === 'string' ? (issue.params['rule'] as string) : issue.code;

/** Rotations by other processes one issue signs through before it gives up (each means a new key was made). */
const MAX_SIGNING_ATTEMPTS = 3;

/**
 * A subject's tokens are bounded: a client that issues itself a token on each run, or a script left looping, would
 * otherwise pile up live tokens of one subject, each a credential to account for and a row of access.db. It bounds
 * one subject, not an admin: an admin names any subject, so how much an admin token issues is bounded by its
 * requests' rate limit and its own lifetime. The caller ends one of them (or waits for one to expire). Counted are
 * the tokens the verifier would accept: one it refuses (listed `refused`) holds no place (review 158).
 */
const subjectFull = (subject: string, max: number) =>
  validationError(
    [
      {
        path: 'subject',
        rule: 'active_tokens',
        message: `${subject} holds ${max} active token${max === 1 ? '' : 's'}, the most one subject may (tokens.maxActivePerSubject): revoke one it no longer uses, or wait for one to expire`,
      },
    ],
    'token request',
  );

/** `AccessControl.issue`: checks the request, signs the JWT in the Secure Environment and records it in access.db. */
export const tokenIssuer = (options: TokenIssuerOptions): ((request: TokenRequest) => Promise<IssuedToken>) => {
  const { registry, clock, random, keys, settings } = options;
  return async ({ subject, role, ttlSeconds, issuedBy, scope, issuer }) => {
    const parsed = z
      .strictObject({
        subject: TokenSubject,
        role: RoleSchema,
        ttlSeconds: z.number().int().min(1).max(options.maxTtlSeconds),
        issuedBy: z.string().min(1).max(200),
        scope: TokenScope.optional(),
      })
      .safeParse({ subject, role, ttlSeconds, issuedBy, ...(scope !== undefined ? { scope } : {}) });
    if (!parsed.success) throw validationError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), rule: ruleOf(i), message: i.message })), 'token request');
    const scoping = scopeIssues(role, parsed.data.scope, issuer?.scope);
    if (scoping.length > 0) throw validationError(scoping, 'token request');
    const issuedAt = clock.now();
    const iat = Math.floor(issuedAt.getTime() / 1000);
    const exp = iat + ttlSeconds;
    // A token cannot outlive the one it is issued with: a leaked short-lived admin token could otherwise leave
    // 90-day admin tokens behind (found in review).
    const issuerExp = issuer === undefined ? undefined : Math.floor(issuer.expiresAt.getTime() / 1000);
    if (issuerExp !== undefined && exp > issuerExp) {
      const left = Math.max(0, issuerExp - iat);
      throw validationError(
        [
          {
            path: 'ttl',
            rule: 'within_issuer_lifetime',
            message: `at most ${left} seconds: a token cannot outlive the token that issues it, which expires at ${issuer!.expiresAt.toISOString()}`,
          },
        ],
        'token request',
      );
    }
    const tokenId = `tok_${toBase64url(random(16))}`;
    const expiresAt = new Date(exp * 1000);
    // Signed with the current key and recorded only while it is still current: a rotation by another process in
    // between (`credence token rotate-key`) has the token signed again with the key that took over.
    for (let attempt = 1; ; attempt++) {
      const key = await keys.current();
      let token;
      try {
        token = await signJwt({ kid: key.kid, sign: (input) => keys.sign(key, input) }, { ...settings, claims: { sub: subject, role, jti: tokenId, iat, exp } });
      } catch (error) {
        // Retired and destroyed by that rotation between the lookup and the signature.
        if (isCredenceError(error, 'not_found') && attempt < MAX_SIGNING_ATTEMPTS) continue;
        throw error;
      }
      const recorded = registry.record({
        tokenId,
        subject,
        role,
        issuedAt: new Date(iat * 1000),
        expiresAt,
        issuedBy,
        signedWith: key.handle,
        maxActiveForSubject: options.maxActivePerSubject,
        // A token the verifier refuses (a lifetime past tokens.maxTtlSeconds now, a reserved subject) holds no place,
        // by the rule the keys count by: a local command's limit is not the service's, and refuses no lifetime there
        // (review 166: without --config, its 90 days left a year-long service's tokens out of the cap).
        refused: keys.refused,
        ...(issuer !== undefined ? { issuedWith: issuer.tokenId } : {}),
        ...(parsed.data.scope !== undefined ? { scope: parsed.data.scope } : {}),
      });
      if (recorded === 'recorded') {
        // Retired keys whose last token ended since. The token stands either way: a key left now is destroyed by
        // the next issue, token command or start.
        await keys.prune().catch(() => undefined);
        return { token, tokenId, subject, role, expiresAt, ...(parsed.data.scope !== undefined ? { scope: parsed.data.scope } : {}) };
      }
      if (recorded === 'issuer_revoked') throw unauthorised('bearer token', 'revoked');
      if (recorded === 'subject_full') throw subjectFull(subject, options.maxActivePerSubject);
      if (attempt >= MAX_SIGNING_ATTEMPTS) throw new Error(`the token signing key was rotated ${attempt} times while one token was issued`);
    }
  };
};
