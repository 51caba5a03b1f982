import type { TokenRecord } from '../../runtime/index.ts';
import { RoleSchema, type Role } from './role.ts';
import { isRecordDamaged, refusalOfRecord, type TokenRefusal } from './token-refusal.ts';

/** What is known of an issued token; never the token itself. */
export interface TokenSummary {
  readonly tokenId: string;
  readonly subject: string;
  /** Absent only when `recordDamaged`: access.db names a role this version does not know. */
  readonly role?: Role;
  /** Absent only when `recordDamaged`: access.db's time of it is no instant. */
  readonly issuedAt?: Date;
  /** Absent only when `recordDamaged`, as `issuedAt`. */
  readonly expiresAt?: Date;
  readonly issuedBy: string;
  /** The token it was issued with, through the service; absent for one issued on the command line. */
  readonly issuedWith?: string;
  /** As access.db records it: the stakeholders its stream is limited to; absent: the whole fleet. */
  readonly scope?: TokenRecord['scope'];
  /**
   * access.db's scope of it does not read as the verifier reads it (recordedTokenScope: not a scope a token is issued
   * with, or on another role than integrator): listed so an admin revokes it; the token itself is refused.
   */
  readonly scopeDamaged?: true;
  /**
   * access.db's role or one of its times of it does not read (a newer version's role, a hand edit, damage): what does
   * not read is left out, and the token itself is refused. Listed so an admin revokes it (review 90).
   */
  readonly recordDamaged?: true;
  /** Absent when revoked at a time that does not read (`recordDamaged`): revoked all the same. */
  readonly revokedAt?: Date;
  readonly revokedBy?: string;
  /** `refused`: neither revoked nor expired, yet every request with it gets 401 (`refusedBecause` says why). */
  readonly state: TokenState;
  /** With state `refused` only: why the verifier refuses it (token-refusal.ts). */
  readonly refusedBecause?: TokenRefusal;
}

export const TOKEN_STATES = ['active', 'refused', 'expired', 'revoked'] as const;
export type TokenState = (typeof TOKEN_STATES)[number];

const isInstant = (at: Date): boolean => !Number.isNaN(at.getTime());

/**
 * Revoked and expired say more than a refusal (they end the token whatever its record reads; an expiry that does not
 * read says nothing). A live token the verifier refuses on every request is never listed `active`, by the verifier's
 * own rule (refusalOfRecord): an admin reading the list took it for a working token (found in review), and one whose
 * lifetime is past `tokens.maxTtlSeconds` (lowered since it was issued) or whose subject is reserved was listed
 * `active` while refused 401 (review 158).
 */
const stateOf = (r: TokenRecord, now: Date, refusal: TokenRefusal | undefined): TokenState =>
  r.revokedAt !== undefined ? 'revoked' : isInstant(r.expiresAt) && r.expiresAt <= now ? 'expired' : refusal !== undefined ? 'refused' : 'active';

/**
 * `maxTtlSeconds`: the service's `tokens.maxTtlSeconds` now, which a token's lifetime is judged by; `now`, its issue time.
 * Its members are named one by one, never the record spread (review 406): access.db's other columns (`signedWith`, the
 * Secure Environment handle `credence key destroy` takes) were listed by `credence token list --data`, not by GET /v1/tokens.
 */
export const tokenSummary = (r: TokenRecord, now: Date, maxTtlSeconds: number): TokenSummary => {
  const { tokenId, subject, role, issuedAt, expiresAt, issuedBy, issuedWith, scope, scopeDamaged, revokedAt, revokedBy } = r;
  const known = RoleSchema.safeParse(role);
  const refusal = refusalOfRecord(r, maxTtlSeconds, now);
  const state = stateOf(r, now, refusal);
  return {
    tokenId,
    subject,
    issuedBy,
    ...(issuedWith !== undefined ? { issuedWith } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(scopeDamaged === true ? { scopeDamaged } : {}),
    ...(revokedBy !== undefined ? { revokedBy } : {}),
    ...(known.success ? { role: known.data } : {}),
    ...(isInstant(issuedAt) ? { issuedAt } : {}),
    ...(isInstant(expiresAt) ? { expiresAt } : {}),
    ...(revokedAt !== undefined && isInstant(revokedAt) ? { revokedAt } : {}),
    ...(isRecordDamaged(r) ? { recordDamaged: true as const } : {}),
    state,
    ...(state === 'refused' && refusal !== undefined ? { refusedBecause: refusal } : {}),
  };
};

/**
 * A token's summary as the API lists it (and the CLI on the data folder): instants as ISO 8601, never the token; its
 * members named, in the order of GET /v1/tokens' schema (routes/tokens.ts), so both listings print the same row.
 */
export const tokenSummaryJson = (summary: TokenSummary) => {
  const { tokenId, subject, role, issuedAt, expiresAt, issuedBy, issuedWith, scope, scopeDamaged, recordDamaged, revokedAt, revokedBy, state, refusedBecause } =
    summary;
  return {
    tokenId,
    subject,
    ...(role !== undefined ? { role } : {}),
    ...(issuedAt !== undefined ? { issuedAt: issuedAt.toISOString() } : {}),
    ...(expiresAt !== undefined ? { expiresAt: expiresAt.toISOString() } : {}),
    issuedBy,
    ...(issuedWith !== undefined ? { issuedWith } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(scopeDamaged !== undefined ? { scopeDamaged } : {}),
    ...(recordDamaged !== undefined ? { recordDamaged } : {}),
    ...(revokedAt !== undefined ? { revokedAt: revokedAt.toISOString() } : {}),
    ...(revokedBy !== undefined ? { revokedBy } : {}),
    state,
    ...(refusedBecause !== undefined ? { refusedBecause } : {}),
  };
};
