import type { TokenRecord } from '../../runtime/index.ts';
import { RoleSchema, type Role } from './role.ts';

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

/**
 * Revoked and expired say more than a damaged scope (they end the token whatever its record reads). A live token
 * whose scope does not read is refused on every request (verify), so it is never listed `active`: an admin reading
 * the list took it for a working token (found in review).
 */
const stateOf = (r: TokenRecord, now: Date): TokenState =>
  r.revokedAt !== undefined ? 'revoked' : r.expiresAt <= now ? 'expired' : r.scopeDamaged === true ? 'refused' : 'active';

export const tokenSummary = (r: TokenRecord, now: Date): TokenSummary => ({
  ...r,
  role: RoleSchema.parse(r.role),
  state: stateOf(r, now),
});

/** A token's summary as the API lists it (and the CLI on the data folder): instants as ISO 8601, never the token. */
export const tokenSummaryJson = ({ issuedAt, expiresAt, revokedAt, ...rest }: TokenSummary) => ({
  ...rest,
  issuedAt: issuedAt.toISOString(),
  expiresAt: expiresAt.toISOString(),
  ...(revokedAt !== undefined ? { revokedAt: revokedAt.toISOString() } : {}),
});
