import { z } from 'zod';
import { toBase64url } from '../../../domain/crypto/index.ts';
import { isCredenceError, unauthorised, validationError } from '../../../domain/errors.ts';
import type { Clock, OwnedSecureEnvironment, RandomSource } from '../../../domain/ports/index.ts';
import type { AccessRegistry, TokenRecord } from '../../runtime/index.ts';
import { HttpProblem } from '../problems.ts';
import { jwtVerifier, signJwt, type JwtSettings } from './jwt.ts';
import { RecentlyUsed } from './recently-used.ts';
import { isReservedSubject, RESERVED_SUBJECT_MESSAGE, RESERVED_SUBJECT_RULE } from './reserved-subjects.ts';
import { RoleSchema, type Role } from './role.ts';
import { openSigningKeys, type SigningKeyRotation } from './signing-keys.ts';
import { scopeIssues, TokenScope } from './token-scope.ts';

export { accessSigningKeyMissing } from './signing-keys.ts';
export type { RetiredSigningKey, SigningKeyRotation } from './signing-keys.ts';

export { ROLES, RoleSchema } from './role.ts';
export type { Role } from './role.ts';

export interface Principal {
  readonly subject: string;
  readonly role: Role;
  /** The token id (`jti`), what `credence token revoke` names. */
  readonly tokenId: string;
  readonly expiresAt: Date;
  /** The stakeholders its event stream is limited to, as access.db records them (SER-025); absent: the whole fleet. */
  readonly scope?: TokenScope;
}

export interface IssuedToken {
  readonly token: string;
  readonly tokenId: string;
  readonly subject: string;
  readonly role: Role;
  readonly expiresAt: Date;
  readonly scope?: TokenScope;
}

/** What is known of an issued token; never the token itself. */
export interface TokenSummary {
  readonly tokenId: string;
  readonly subject: string;
  readonly role: Role;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly issuedBy: string;
  /** The token it was issued with, through the service; absent for one issued on the command line. */
  readonly issuedWith?: string;
  /** As access.db records it: the stakeholders its stream is limited to; absent: the whole fleet. */
  readonly scope?: TokenRecord['scope'];
  /** access.db's scope of it does not read: listed so an admin revokes it; the token itself is refused. */
  readonly scopeDamaged?: true;
  readonly revokedAt?: Date;
  readonly revokedBy?: string;
  /** `refused`: neither revoked nor expired, yet every request with it gets 401 (`scopeDamaged` says why). */
  readonly state: TokenState;
}

export const TOKEN_STATES = ['active', 'refused', 'expired', 'revoked'] as const;
export type TokenState = (typeof TOKEN_STATES)[number];

export interface AccessControl {
  /** The longest lifetime `issue` accepts. */
  readonly maxTtlSeconds: number;
  /**
   * Signs a JWT (EdDSA, key in the Secure Environment) and records its id, subject, role and expiry. Issued with
   * another token (`issuer`: through the service), it expires no later than that one, and its revocation ends it. An
   * integrator's may have a `scope` (SER-025), recorded with it; issued with a scoped token, one within that scope.
   * Refused (`validation`, nothing recorded): a scope on another role, an empty one, one past MAX_SCOPE_ENTRIES.
   */
  issue(args: {
    subject: string;
    role: Role;
    ttlSeconds: number;
    issuedBy: string;
    scope?: TokenScope;
    issuer?: Pick<Principal, 'tokenId' | 'expiresAt' | 'scope'>;
  }): Promise<IssuedToken>;
  /**
   * Ends a token before its expiry, and every token issued with it (down the chain), or that token `alone` (its
   * holder signing out: what it issued for others stands); later requests with any of them get 401, and the
   * listeners `onRevoked` registered for each are told at once. Returns false for an unknown id.
   */
  revoke(tokenId: string, revokedBy: string, options?: { readonly alone?: boolean }): boolean;
  /**
   * A new key signs tokens from now on (`credence token rotate-key`). The one before signs nothing more and verifies
   * the tokens it signed until they end, then is destroyed; `withdrawPrevious` (a key that may be compromised)
   * revokes every token a retired key signed at once and destroys the key.
   */
  rotateSigningKey(by: string, options: { readonly withdrawPrevious: boolean }): Promise<SigningKeyRotation>;
  /**
   * Calls `listener` when `revoke` (of this access control, in this process) ends the token `tokenId`: what a
   * long-lived response (SSE) uses to end at once. Returns the unsubscribe. Revocations made by another process on
   * the same access.db (the CLI) are not heard here: `remainingMs` finds them.
   */
  onRevoked(tokenId: string, listener: () => void): () => void;
  /**
   * Verifies signature, expiry, the lifetime (at most `maxTtlSeconds`), the subject (never a reserved one) and
   * revocation; throws CredenceError 'unauthorised' (-> 401) otherwise.
   */
  verify(token: string): Promise<Principal>;
  /**
   * Whether `token` verified before (its signature and fixed claims are known good): `verify` then costs no signature
   * check. What the refused-token budget lets through when an address has spent it (refused-token-budget.ts).
   */
  recognises(token: string): boolean;
  /**
   * How long a principal `verify` returned earlier stays valid, in ms by this access control's clock: 0 once its
   * token is revoked, forgotten or expired. One registry lookup: what a long-lived response (SSE) re-checks.
   */
  remainingMs(principal: Principal): number;
  /** Whether the token's `exp` has passed at this service's clock (what a refusal then says: `expired`). */
  expired(principal: Principal): boolean;
  /** Issued tokens in issue order, a page at a time; expired ones only when asked. */
  list(args: { limit: number; after?: string; includeExpired?: boolean }): { tokens: TokenSummary[]; next?: string };
}

/**
 * Who a token names: an id usable as a command's actor id, never one reserved to the engine's system actors or to
 * the infrastructure (reserved-subjects.ts). The refusal names its rule (`reserved_subject`) in `params.rule`.
 */
export const TokenSubject = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only')
  .refine((s) => !isReservedSubject(s), { message: RESERVED_SUBJECT_MESSAGE, params: { rule: RESERVED_SUBJECT_RULE } });

/** The rule of a zod issue: a custom refinement's own (`params.rule`) when it names one, else the issue's code. */
const ruleOf = (issue: z.core.$ZodIssue): string =>
  issue.code === 'custom' && typeof issue.params?.['rule'] === 'string' ? (issue.params['rule'] as string) : issue.code;

export const TokenId = z.string().regex(/^tok_[A-Za-z0-9_-]{22}$/, 'a token id (tok_ and 22 characters)');

export interface AccessControlOptions extends JwtSettings {
  /** The view of the Secure Environment the signing key belongs to (its own owner, e.g. `credence:access`). */
  readonly se: OwnedSecureEnvironment;
  readonly registry: AccessRegistry;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly maxTtlSeconds: number;
  /** The most tokens one subject holds at a time, neither expired nor revoked (`tokens.maxActivePerSubject`). */
  readonly maxActivePerSubject: number;
  /** How many tokens that passed every check `recognises` keeps (least recently used out first). Default 4,096. */
  readonly recognisedKept?: number;
}

/**
 * Revoked and expired say more than a damaged scope (they end the token whatever its record reads). A live token
 * whose scope does not read is refused on every request (verify), so it is never listed `active`: an admin reading
 * the list took it for a working token (found in review).
 */
const stateOf = (r: TokenRecord, now: Date): TokenState =>
  r.revokedAt !== undefined ? 'revoked' : r.expiresAt <= now ? 'expired' : r.scopeDamaged === true ? 'refused' : 'active';

const summary = (r: TokenRecord, now: Date): TokenSummary => ({
  ...r,
  role: RoleSchema.parse(r.role),
  state: stateOf(r, now),
});

/** Rotations by other processes one issue signs through before it gives up (each means a new key was made). */
const MAX_SIGNING_ATTEMPTS = 3;

/** Expired tokens stay listed (with state `expired`) this long, for whoever reviews access after the fact. */
const PRUNE_AFTER_EXPIRY_MS = 30 * 86_400_000;


/**
 * A subject's tokens are bounded: a client that issues itself a token on each run, or a script left looping, would
 * otherwise pile up live tokens of one subject, each a credential to account for and a row of access.db. It bounds
 * one subject, not an admin: an admin names any subject, so how much an admin token issues is bounded by its
 * requests' rate limit and its own lifetime. The caller ends one of them (or waits for one to expire).
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

/**
 * API bearer tokens (issue 12): JWTs signed with Ed25519 inside the Secure Environment, verified with `jose`, each
 * recorded (id, subject, role, expiry, issuer) in access.db so it can be listed and revoked. The token string is
 * returned once, to the caller of `issue`, and kept nowhere.
 */
export const createAccessControl = async (options: AccessControlOptions): Promise<AccessControl> => {
  const { se, registry, clock, random } = options;
  const keys = await openSigningKeys(se, registry, clock);
  // Records of tokens long expired refuse nothing their expiry does not already refuse: forget them.
  registry.prune(new Date(clock.now().getTime() - PRUNE_AFTER_EXPIRY_MS));
  // Retired keys whose last token ended since: destroyed (a service start, a local token command). One the Secure
  // Environment will not destroy now stops nothing: it verifies only tokens that ended, and the next prune tries again.
  await keys.prune().catch(() => undefined);
  const settings: JwtSettings = { issuer: options.issuer, audience: options.audience };
  const verifyToken = jwtVerifier((kid) => keys.verificationKey(kid), settings);
  const revocationListeners = new Map<string, Set<() => void>>();
  const tellRevoked = (ids: readonly string[]): void => {
    for (const id of ids) {
      for (const listener of [...(revocationListeners.get(id) ?? [])]) {
        try {
          listener();
        } catch {
          // One listener failing must not keep the others (or the caller) from the revocation, which is recorded.
        }
      }
    }
  };
  /**
   * Tokens that passed every check of `verify` lately (least recently used out first): what `recognises` answers. Not
   * the signature cache alone, which also holds tokens refused afterwards (revoked, unknown; found in review).
   */
  const accepted = new RecentlyUsed<string, true>(options.recognisedKept ?? 4_096);
  const verifyAll = async (token: string): Promise<Principal> => {
    const { claims, kid } = await verifyToken(token, clock.now());
    // A token is good for no longer than this service would issue one for, wherever it was minted (a --data
    // CLI with other settings, another deployment sharing the key).
    if (claims.exp - claims.iat > options.maxTtlSeconds) throw unauthorised('bearer token', 'lifetime longer than tokens.maxTtlSeconds');
    // Tokens issued before the subject rule reserved the infrastructure's ids (or edited into access.db).
    if (isReservedSubject(claims.sub)) throw unauthorised('bearer token', 'reserved subject');
    // Looked up on every request, never cached: a revocation (by this process or the CLI) counts at once.
    const record = registry.find(claims.jti);
    if (record === undefined) throw unauthorised('bearer token', 'unknown token');
    if (record.revokedAt !== undefined) throw unauthorised('bearer token', 'revoked');
    // Defence in depth: a token is only good for what was recorded when it was issued.
    // ... and signed with the key it was recorded as signed with.
    if (record.subject !== claims.sub || record.role !== claims.role || record.signedWith !== keys.handleOf(kid)) {
      throw unauthorised('bearer token', 'does not match its record');
    }
    // The scope is access.db's alone (no claim carries it), read on every request as the role is. One that does not
    // parse, or on a role that has none, is refused rather than read as none: none is the whole fleet.
    if (record.scopeDamaged === true) throw unauthorised('bearer token', 'scope does not match its record');
    const scope = record.scope === undefined ? undefined : TokenScope.safeParse(record.scope);
    if (scope !== undefined && (!scope.success || claims.role !== 'integrator')) throw unauthorised('bearer token', 'scope does not match its record');
    return {
      subject: claims.sub,
      role: claims.role,
      tokenId: claims.jti,
      expiresAt: new Date(claims.exp * 1000),
      ...(scope?.success === true ? { scope: scope.data } : {}),
    };
  };
  return {
    maxTtlSeconds: options.maxTtlSeconds,
    async issue({ subject, role, ttlSeconds, issuedBy, scope, issuer }) {
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
          token = await signJwt({ kid: key.kid, sign: (input) => se.sign(key.handle, input) }, { ...settings, claims: { sub: subject, role, jti: tokenId, iat, exp } });
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
    },
    async rotateSigningKey(by, rotation) {
      const rotated = await keys.rotate(by, rotation);
      tellRevoked(rotated.revoked);
      return rotated;
    },
    revoke(tokenId, revokedBy, revokeOptions) {
      if (!TokenId.safeParse(tokenId).success) return false;
      const revoked = registry.revoke(tokenId, clock.now(), revokedBy, revokeOptions);
      if (revoked === undefined) return false;
      tellRevoked(revoked);
      return true;
    },
    onRevoked(tokenId, listener) {
      const listeners = revocationListeners.get(tokenId) ?? new Set();
      revocationListeners.set(tokenId, listeners);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && revocationListeners.get(tokenId) === listeners) revocationListeners.delete(tokenId);
      };
    },
    async verify(token) {
      accepted.delete(token);
      const principal = await verifyAll(token);
      accepted.set(token, true);
      return principal;
    },
    recognises: (token) => accepted.has(token),
    remainingMs(principal) {
      const remaining = principal.expiresAt.getTime() - clock.now().getTime();
      if (remaining <= 0) return 0;
      const record = registry.find(principal.tokenId);
      return record === undefined || record.revokedAt !== undefined || record.scopeDamaged === true ? 0 : remaining;
    },
    expired: (principal) => principal.expiresAt.getTime() <= clock.now().getTime(),
    list({ limit, after, includeExpired = false }) {
      const now = clock.now();
      const page = registry.list({ limit, ...(after !== undefined ? { after } : {}), includeExpired, now });
      return { tokens: page.tokens.map((r) => summary(r, now)), ...(page.next !== undefined ? { next: page.next } : {}) };
    },
  };
};

/** A token's summary as the API lists it (and the CLI on the data folder): instants as ISO 8601, never the token. */
export const tokenSummaryJson = ({ issuedAt, expiresAt, revokedAt, ...rest }: TokenSummary) => ({
  ...rest,
  issuedAt: issuedAt.toISOString(),
  expiresAt: expiresAt.toISOString(),
  ...(revokedAt !== undefined ? { revokedAt: revokedAt.toISOString() } : {}),
});

/** `DELETE /v1/tokens/:id`: revokes, or a 404 `not_found` problem naming the `tokenId` (a token is not a stream). */
export const revokeOrThrow = (access: AccessControl, tokenId: string, revokedBy: string): void => {
  if (!access.revoke(tokenId, revokedBy)) throw new HttpProblem(404, 'not_found', `token ${tokenId} does not exist`, { tokenId });
};
