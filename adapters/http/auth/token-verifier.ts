import { unauthorised } from '../../../domain/errors.ts';
import type { Clock } from '../../../domain/ports/index.ts';
import type { AccessRegistry, TokenRecord } from '../../runtime/index.ts';
import { jwtVerifier, type JwtSettings } from './jwt.ts';
import type { Principal } from './principal.ts';
import { COMMAND_LINE_ISSUER, COMMAND_LINE_ISSUER_PREFIX } from './reserved-subjects.ts';
import type { SigningKeys } from './signing-keys.ts';
import { refusalBySettings, refusalOfRecord, TOKEN_REFUSAL_REASONS } from './token-refusal.ts';
import { recordedTokenScope } from './token-scope.ts';

/**
 * Who issued a token, as the log records it with every command the token sends (`metadata.token.issuedBy`): the
 * issuer's subject for one issued through the service (subjects are what the log records as actors anyway); `cli` for
 * one made on the command line, whose access.db record names the OS account (`cli:<username>`, bin/commands/
 * token-target.ts localActor), which stays there alone (review 189: written into the immutable log, the account
 * reached the canonical stream, compliance rows and evidence bundles). Told apart by `issuedWith`, which only a token
 * issued through the service has: no subject may be `cli` or begin `cli:` (reserved-subjects.ts, review 257), but one
 * issued before that rule may have, and the tokens it issued keep its subject as their issuer.
 */
const issuerAsRecorded = (record: TokenRecord): string =>
  record.issuedWith === undefined && record.issuedBy.startsWith(COMMAND_LINE_ISSUER_PREFIX) ? COMMAND_LINE_ISSUER : record.issuedBy;

export interface TokenVerifierOptions {
  readonly registry: AccessRegistry;
  readonly clock: Clock;
  readonly keys: SigningKeys;
  readonly settings: JwtSettings;
  readonly maxTtlSeconds: number;
}

/**
 * Every check of a bearer token: its signature and expiry (jwt.ts), then what access.db and this service's settings
 * say of it. Throws CredenceError 'unauthorised' (-> 401) naming what failed.
 */
export const tokenVerifier = (options: TokenVerifierOptions): ((token: string) => Promise<Principal>) => {
  const { registry, clock, keys } = options;
  const verifyToken = jwtVerifier((kid) => keys.verificationKey(kid), options.settings);
  return async (token: string): Promise<Principal> => {
    const now = clock.now();
    const { claims, kid } = await verifyToken(token, now);
    // A token is good for no longer than this service would issue one for, wherever it was minted (a --data
    // CLI with other settings, another deployment sharing the key), never under a reserved subject, and not before it
    // was issued (review 320: jose checks a future `iat` only with maxTokenAge): judged on its claims before any
    // lookup, and on its record below, by the rule the listing and the counts use.
    const bySettings = refusalBySettings({ subject: claims.sub, issuedAt: new Date(claims.iat * 1000), expiresAt: new Date(claims.exp * 1000) }, options.maxTtlSeconds, now);
    if (bySettings !== undefined) throw unauthorised('bearer token', TOKEN_REFUSAL_REASONS[bySettings]);
    // Looked up on every request, never cached: a revocation (by this process or the CLI) counts at once.
    const record = registry.find(claims.jti);
    if (record === undefined) throw unauthorised('bearer token', 'unknown token');
    if (record.revokedAt !== undefined) throw unauthorised('bearer token', 'revoked');
    // What its record says refuses it whatever the claims say (review 90: a record that does not read; review 146: a
    // scope that does not; review 158: a recorded lifetime or subject this service's settings refuse), by the one rule
    // (refusalOfRecord) that lists it `refused` and leaves it out of its subject's and its signing key's live tokens.
    const refusal = refusalOfRecord(record, options.maxTtlSeconds, now);
    if (refusal !== undefined) throw unauthorised('bearer token', TOKEN_REFUSAL_REASONS[refusal]);
    // The record's expiry is the token's, whatever its `exp` says: a token whose record expired (kept 30 days, listed
    // `expired`) signed again with a fresh `exp` by whoever holds the key was taken (review 127). From the instant it
    // passes, as `credence token list` tells it.
    if (now.getTime() >= record.expiresAt.getTime()) throw unauthorised('bearer token', 'expired');
    // Defence in depth: a token is only good for what was recorded when it was issued: no later than its recorded
    // expiry, and signed with the key it was recorded as signed with.
    if (
      record.subject !== claims.sub ||
      record.role !== claims.role ||
      claims.exp * 1000 > record.expiresAt.getTime() ||
      record.signedWith !== keys.handleOf(kid)
    ) {
      throw unauthorised('bearer token', 'does not match its record');
    }
    // The scope is access.db's alone (no claim carries it), read on every request as the role is. One that does not
    // parse, or on a role that has none, was refused above (refusalOfRecord) rather than read as none: none is the
    // whole fleet. Read again here for its value.
    const scope = record.scope === undefined ? undefined : recordedTokenScope(record.scope, record.role);
    if (scope === 'damaged') throw unauthorised('bearer token', TOKEN_REFUSAL_REASONS.scope_damaged);
    return {
      subject: claims.sub,
      role: claims.role,
      tokenId: claims.jti,
      issuedBy: issuerAsRecorded(record),
      // The issuing token's id, which access.db forgets 30 days after that token expires: the log keeps it (review 196).
      ...(record.issuedWith !== undefined ? { issuedWith: record.issuedWith } : {}),
      expiresAt: new Date(claims.exp * 1000),
      ...(scope !== undefined ? { scope } : {}),
    };
  };
};
