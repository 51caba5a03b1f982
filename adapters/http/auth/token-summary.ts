import type { TokenRecord } from '../../runtime/index.ts';
import { RoleSchema, type Role } from './role.ts';

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
  /** `refused`: neither revoked nor expired, yet every request with it gets 401 (`scopeDamaged` or `recordDamaged` says why). */
  readonly state: TokenState;
}

export const TOKEN_STATES = ['active', 'refused', 'expired', 'revoked'] as const;
export type TokenState = (typeof TOKEN_STATES)[number];

const isInstant = (at: Date): boolean => !Number.isNaN(at.getTime());

/**
 * A record of which a field does not read as this version reads it: a role it does not know, a time that is no
 * instant. One such row made the whole listing throw (500 for every admin, review 90); the verifier refuses its token.
 */
export const isRecordDamaged = (r: TokenRecord): boolean =>
  !RoleSchema.safeParse(r.role).success || !isInstant(r.issuedAt) || !isInstant(r.expiresAt) || (r.revokedAt !== undefined && !isInstant(r.revokedAt));

/**
 * Revoked and expired say more than a damaged scope or record (they end the token whatever its record reads; an
 * expiry that does not read says nothing). A live token whose scope or record does not read is refused on every
 * request (verify), so it is never listed `active`: an admin reading the list took it for a working token (found in
 * review).
 */
const stateOf = (r: TokenRecord, now: Date, damaged: boolean): TokenState =>
  r.revokedAt !== undefined ? 'revoked' : isInstant(r.expiresAt) && r.expiresAt <= now ? 'expired' : r.scopeDamaged === true || damaged ? 'refused' : 'active';

export const tokenSummary = (r: TokenRecord, now: Date): TokenSummary => {
  const { role, issuedAt, expiresAt, revokedAt, ...rest } = r;
  const known = RoleSchema.safeParse(role);
  const damaged = isRecordDamaged(r);
  return {
    ...rest,
    ...(known.success ? { role: known.data } : {}),
    ...(isInstant(issuedAt) ? { issuedAt } : {}),
    ...(isInstant(expiresAt) ? { expiresAt } : {}),
    ...(revokedAt !== undefined && isInstant(revokedAt) ? { revokedAt } : {}),
    ...(damaged ? { recordDamaged: true as const } : {}),
    state: stateOf(r, now, damaged),
  };
};

/** A token's summary as the API lists it (and the CLI on the data folder): instants as ISO 8601, never the token. */
export const tokenSummaryJson = ({ issuedAt, expiresAt, revokedAt, ...rest }: TokenSummary) => ({
  ...rest,
  ...(issuedAt !== undefined ? { issuedAt: issuedAt.toISOString() } : {}),
  ...(expiresAt !== undefined ? { expiresAt: expiresAt.toISOString() } : {}),
  ...(revokedAt !== undefined ? { revokedAt: revokedAt.toISOString() } : {}),
});
