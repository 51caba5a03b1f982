import { decodeJwt } from 'jose';
import type { Clock, OwnedSecureEnvironment, RandomSource } from '../../../domain/ports/index.ts';
import type { AccessRegistry } from '../../runtime/index.ts';
import { MAX_TOKEN_CHARS, type JwtSettings } from './jwt.ts';
import type { IssuedToken, Principal } from './principal.ts';
import { RecentlyUsed } from './recently-used.ts';
import { revocationListeners } from './revocation-listeners.ts';
import { openSigningKeys, type RotationOptions, type SigningKeyRotation, type SigningKeysOptions } from './signing-keys.ts';
import { TokenId } from './token-ids.ts';
import { tokenIssuer, type TokenRequest } from './token-issuer.ts';
import { refusalOfRecord, refusedUnder } from './token-refusal.ts';
import { tokenSummary, type TokenSummary } from './token-summary.ts';
import { tokenVerifier } from './token-verifier.ts';

export { accessSigningKeyGone, accessSigningKeyMissing } from './signing-keys.ts';
export type { RetiredSigningKey, RotationOptions, SigningKeyRotation } from './signing-keys.ts';

export { ROLES, RoleSchema } from './role.ts';
export type { Role } from './role.ts';

export type { IssuedToken, Principal } from './principal.ts';
export { TokenId, TokenSubject } from './token-ids.ts';
export { TOKEN_STATES, tokenSummaryJson } from './token-summary.ts';
export { TOKEN_REFUSALS } from './token-refusal.ts';
export type { TokenRefusal } from './token-refusal.ts';
export type { TokenState, TokenSummary } from './token-summary.ts';

export interface AccessControl {
  /** The longest lifetime `issue` accepts. */
  readonly maxTtlSeconds: number;
  /**
   * Signs a JWT (EdDSA, key in the Secure Environment) and records its id, subject, role and expiry. Issued with
   * another token (`issuer`: through the service), it expires no later than that one, and its revocation ends it. An
   * integrator's may have a `scope` (SER-025), recorded with it; issued with a scoped token, one within that scope.
   * Refused (`validation`, nothing recorded): a scope on another role, an empty one, one past MAX_SCOPE_ENTRIES.
   */
  issue(args: TokenRequest): Promise<IssuedToken>;
  /**
   * Ends a token before its expiry, and every token issued with it (down the chain), or that token `alone` (its
   * holder signing out: what it issued for others stands); later requests with any of them get 401, and the
   * listeners `onRevoked` registered for each are told at once. Returns false for an unknown id.
   */
  revoke(tokenId: string, revokedBy: string, options?: { readonly alone?: boolean }): boolean;
  /**
   * `revoke`, answering what it ended: the ids this revocation revoked (the token itself unless it was revoked already,
   * and the tokens issued with it, down the chain, still live: a token signed out `alone` leaves them), undefined for
   * an unknown id. What `credence token revoke` counts (review 93: inferred from times, it said "nothing more revoked"
   * while it ended the live chain of a token signed out).
   */
  revokeChain(tokenId: string, revokedBy: string): readonly string[] | undefined;
  /**
   * A new key signs tokens from now on (`credence token rotate-key`). The one before signs nothing more and verifies
   * the tokens it signed until they end, then is destroyed; `withdrawPrevious` (a key that may be compromised)
   * revokes every token a retired key signed at once and destroys the key; a current key a token does not hold is
   * withdrawn only as `withdrawMissing` says (RotationOptions).
   */
  rotateSigningKey(by: string, options: RotationOptions): Promise<SigningKeyRotation>;
  /**
   * Calls `listener` when `revoke` (of this access control, in this process) ends the token `tokenId`: what a
   * long-lived response (SSE) uses to end at once. Returns the unsubscribe. Revocations made by another process on
   * the same access.db (the CLI) are not heard here: `remainingMs` finds them.
   */
  onRevoked(tokenId: string, listener: () => void): () => void;
  /**
   * Verifies signature, expiry (the token's `exp` and its record's, which `exp` may not pass), the lifetime (at most
   * `maxTtlSeconds`), the subject (never a reserved one) and revocation; throws CredenceError 'unauthorised' (-> 401)
   * otherwise.
   */
  verify(token: string): Promise<Principal>;
  /**
   * Whether `token` verified before (its signature and fixed claims are known good): `verify` then costs no signature
   * check. What the refused-token budget lets through when an address has spent it (refused-token-budget.ts).
   */
  recognises(token: string): boolean;
  /**
   * The id `token` names, read without verifying it, when access.db holds a live record of that id (not revoked, not
   * expired, none its record refuses): one indexed read, far cheaper than a signature check. What lets a token this
   * process has not verified yet (none, after a restart) past a spent refused-token budget (review 273). Undefined,
   * and nothing read, for a token longer than any we issue or whose id is not of a token id's form.
   */
  liveTokenIdNamedBy(token: string): string | undefined;
  /**
   * How long a principal `verify` returned earlier stays valid, in ms by this access control's clock: 0 once its
   * token is revoked, forgotten or expired. One registry lookup: what a long-lived response (SSE) re-checks.
   */
  remainingMs(principal: Principal): number;
  /** Whether the token's `exp`, or its record's expiry, has passed at this service's clock (what a refusal then says: `expired`). */
  expired(principal: Principal): boolean;
  /**
   * When the token was revoked, by one lookup of its record (review 189: read from the listing, a page at a time, it
   * cost every token kept). Undefined for an unknown id, one not revoked, and one revoked at a time access.db does not
   * read as an instant (damaged, or edited by hand: listed `recordDamaged`, revoked all the same).
   */
  revokedAt(tokenId: string): Date | undefined;
  /** Issued tokens in issue order, a page at a time; expired ones only when asked. */
  list(args: { limit: number; after?: string; includeExpired?: boolean }): { tokens: TokenSummary[]; next?: string };
  /**
   * Reads access.db once, as cheaply as it can be read: the current signing key's row and one lookup of the tokens'
   * index by the statement every authenticated request makes (of an id no token has). Throws what the read throws
   * (SqliteError). What /readyz checks (review 276: with those reads failing every API call answered 500 while it said
   * ready); another process writes access.db too (`credence token create --data`).
   */
  checkReadable(): void;
}

export interface AccessControlOptions extends JwtSettings, SigningKeysOptions {
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
  /**
   * Whether a token refused for a lifetime past `maxTtlSeconds` leaves the retired key that signed it to be destroyed
   * (default true: the service, whose settings refuse it). False for a local command, whose settings (its own
   * --config, or none) need not be the service's: a key destroyed is gone for good, and the service may still accept
   * the token (review 158).
   */
  readonly lifetimeEndsKeys?: boolean;
  /**
   * Whether opening forgets long-expired token records and destroys retired keys whose tokens all ended (default
   * true). False for a listing, which changes nothing: README's restore step 2 lists the folder moved aside, whose key
   * database must keep the time of its last key change (review 96: the prune destroyed a key there, and the key
   * made by step 3 in the restored folder then looked destroyed since the backup).
   */
  readonly prune?: boolean;
}

/**
 * The `jti` a bearer token's payload names, unverified, decoded by jose as `verify` decodes it. Bounded: a token longer
 * than MAX_TOKEN_CHARS (which `verify` refuses as malformed) is not decoded at all. Undefined for anything that names
 * no id of the form of ours, and such a token never reaches access.db.
 */
const namedTokenId = (token: string): string | undefined => {
  if (token.length > MAX_TOKEN_CHARS) return undefined;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(token);
  } catch {
    return undefined;
  }
  const id = TokenId.safeParse(claims.jti);
  return id.success ? id.data : undefined;
};

/** An id of no token (not of TokenId's form): what `checkReadable` looks up, finding nothing. */
const NO_TOKEN_ID = 'tok_';

/** Expired tokens stay listed (with state `expired`) this long, for whoever reviews access after the fact. */
const PRUNE_AFTER_EXPIRY_MS = 30 * 86_400_000;

/**
 * API bearer tokens (issue 12): JWTs signed with Ed25519 inside the Secure Environment, verified with `jose`, each
 * recorded (id, subject, role, expiry, issuer) in access.db so it can be listed and revoked. The token string is
 * returned once, to the caller of `issue`, and kept nowhere.
 */
export const createAccessControl = async (options: AccessControlOptions): Promise<AccessControl> => {
  const { se, registry, clock, random } = options;
  const keys = await openSigningKeys(se, registry, clock, {
    ...(options.keysInToken !== undefined ? { keysInToken: options.keysInToken } : {}),
    ...(options.openWithoutCurrentKey !== undefined ? { openWithoutCurrentKey: options.openWithoutCurrentKey } : {}),
    ...(options.otherKeysOfTheFolder !== undefined ? { otherKeysOfTheFolder: options.otherKeysOfTheFolder } : {}),
    refused: refusedUnder(options.lifetimeEndsKeys === false ? Number.POSITIVE_INFINITY : options.maxTtlSeconds),
  });
  // Nor when the current key is gone from the token (review 133): a `token create` it refuses writes nothing, and a
  // rotation prunes once it has withdrawn it.
  if (options.prune !== false && keys.currentRead()) {
    // Records of tokens long expired refuse nothing their expiry does not already refuse: forget them.
    registry.prune(new Date(clock.now().getTime() - PRUNE_AFTER_EXPIRY_MS));
    // Retired keys whose last token ended since: destroyed (a service start, a local token command). One the Secure
    // Environment will not destroy now stops nothing: it verifies only tokens that ended, and the next prune tries again.
    await keys.prune().catch(() => undefined);
  }
  const settings: JwtSettings = { issuer: options.issuer, audience: options.audience };
  const { maxTtlSeconds, maxActivePerSubject } = options;
  const verifyAll = tokenVerifier({ registry, clock, keys, settings, maxTtlSeconds });
  const { tellRevoked, onRevoked } = revocationListeners();
  /**
   * Tokens that passed every check of `verify` lately (least recently used out first): what `recognises` answers. Not
   * the signature cache alone, which also holds tokens refused afterwards (revoked, unknown; found in review).
   */
  const accepted = new RecentlyUsed<string, true>(options.recognisedKept ?? 4_096);
  const revokeNow = (tokenId: string, revokedBy: string, revokeOptions?: { readonly alone?: boolean }): readonly string[] | undefined => {
    if (!TokenId.safeParse(tokenId).success) return undefined;
    const revoked = registry.revoke(tokenId, clock.now(), revokedBy, revokeOptions);
    if (revoked !== undefined) tellRevoked(revoked);
    return revoked;
  };
  return {
    maxTtlSeconds,
    issue: tokenIssuer({ registry, clock, random, keys, settings, maxTtlSeconds, maxActivePerSubject }),
    async rotateSigningKey(by, rotation) {
      const rotated = await keys.rotate(by, rotation);
      tellRevoked(rotated.revoked);
      return rotated;
    },
    revoke(tokenId, revokedBy, revokeOptions) {
      return revokeNow(tokenId, revokedBy, revokeOptions) !== undefined;
    },
    revokeChain: (tokenId, revokedBy) => revokeNow(tokenId, revokedBy),
    onRevoked,
    async verify(token) {
      accepted.delete(token);
      const principal = await verifyAll(token);
      accepted.set(token, true);
      return principal;
    },
    recognises: (token) => accepted.has(token),
    liveTokenIdNamedBy(token) {
      const id = namedTokenId(token);
      if (id === undefined) return undefined;
      const record = registry.find(id);
      const now = clock.now();
      // A revocation or expiry that does not read as an instant (damaged) is no live record either: NaN compares false.
      const live =
        record !== undefined &&
        record.revokedAt === undefined &&
        now.getTime() < record.expiresAt.getTime() &&
        refusalOfRecord(record, maxTtlSeconds, now) === undefined;
      return live ? id : undefined;
    },
    remainingMs(principal) {
      const at = clock.now();
      const now = at.getTime();
      if (principal.expiresAt.getTime() <= now) return 0;
      const record = registry.find(principal.tokenId);
      if (record === undefined || record.revokedAt !== undefined || refusalOfRecord(record, maxTtlSeconds, at) !== undefined) return 0;
      // Whichever ends first, the token's `exp` or its record's expiry (review 127: `verify` holds one to the other,
      // and a record edited since is read here as the role is).
      return Math.max(0, Math.min(principal.expiresAt.getTime(), record.expiresAt.getTime()) - now);
    },
    expired(principal) {
      const now = clock.now().getTime();
      if (principal.expiresAt.getTime() <= now) return true;
      const recorded = registry.find(principal.tokenId)?.expiresAt.getTime();
      return recorded !== undefined && recorded <= now;
    },
    revokedAt(tokenId) {
      if (!TokenId.safeParse(tokenId).success) return undefined;
      const revokedAt = registry.find(tokenId)?.revokedAt;
      // A revocation time that is no instant reads as an invalid Date (toTokenRecord), which no answer can write
      // (toISOString throws): left out, as the listing leaves it out (tokenSummary).
      return revokedAt !== undefined && !Number.isNaN(revokedAt.getTime()) ? revokedAt : undefined;
    },
    checkReadable() {
      registry.currentSigningKey();
      registry.find(NO_TOKEN_ID);
    },
    list({ limit, after, includeExpired = false }) {
      const now = clock.now();
      const page = registry.list({ limit, ...(after !== undefined ? { after } : {}), includeExpired, now });
      return { tokens: page.tokens.map((r) => tokenSummary(r, now, maxTtlSeconds)), ...(page.next !== undefined ? { next: page.next } : {}) };
    },
  };
};
