import { SYSTEM_ACTOR_IDS, SYSTEM_ACTOR_PREFIX } from '../../../domain/metadata.ts';
import type { AccessRegistry, TokenRecord } from '../../runtime/index.ts';
import { COMMAND_LINE_ISSUER, COMMAND_LINE_ISSUER_PREFIX, INFRASTRUCTURE_ACTOR_ID, INFRASTRUCTURE_ACTOR_PREFIX, isReservedSubject } from './reserved-subjects.ts';
import { ROLES, RoleSchema } from './role.ts';
import { recordedTokenScope } from './token-scope.ts';

/**
 * Why a token neither revoked nor expired is refused on every request all the same: its record does not read (a role
 * this version does not know, a time that is no instant), its scope does not, it is meant to live longer than this
 * service issues tokens for (`tokens.maxTtlSeconds`, lowered since), or its subject is one no token may carry.
 */
export const TOKEN_REFUSALS = ['record_damaged', 'scope_damaged', 'lifetime_too_long', 'reserved_subject'] as const;
export type TokenRefusal = (typeof TOKEN_REFUSALS)[number];

/** What a 401 says for each (the verifier's `reason`). */
export const TOKEN_REFUSAL_REASONS: Readonly<Record<TokenRefusal, string>> = {
  record_damaged: 'its record does not read',
  scope_damaged: 'scope does not match its record',
  lifetime_too_long: 'lifetime longer than tokens.maxTtlSeconds',
  reserved_subject: 'reserved subject',
};

const isInstant = (at: Date): boolean => !Number.isNaN(at.getTime());

/**
 * A record of which a field does not read as this version reads it: a role it does not know, a time that is no
 * instant. One such row made the whole listing throw (500 for every admin, review 90); the verifier refuses its token.
 */
export const isRecordDamaged = (r: TokenRecord): boolean =>
  !RoleSchema.safeParse(r.role).success || !isInstant(r.issuedAt) || !isInstant(r.expiresAt) || (r.revokedAt !== undefined && !isInstant(r.revokedAt));

/**
 * What this service's settings refuse of a token wherever it was minted (a --data CLI with other settings, another
 * deployment sharing the key, a service since restarted with a lower `tokens.maxTtlSeconds`): a lifetime past the
 * longest it issues, a reserved subject (tokens issued before the subject rule reserved the infrastructure's ids, or
 * edited into access.db). Judged on a token's claims and on its record alike.
 */
export const refusalBySettings = (
  token: { readonly subject: string; readonly issuedAt: Date; readonly expiresAt: Date },
  maxTtlSeconds: number,
): 'lifetime_too_long' | 'reserved_subject' | undefined => {
  if ((token.expiresAt.getTime() - token.issuedAt.getTime()) / 1000 > maxTtlSeconds) return 'lifetime_too_long';
  if (isReservedSubject(token.subject)) return 'reserved_subject';
  return undefined;
};

/**
 * The one rule by which a recorded token is refused whatever its expiry and revocation: what the verifier refuses it
 * for, what the listing says it is `refused` for, and what leaves it out of its subject's count of active tokens
 * (`tokens.maxActivePerSubject`) and of its signing key's live tokens (review 158: a token refused on every request
 * was listed `active`, held a place of its subject's, and kept a retired signing key from being destroyed). A scope
 * is judged by the rule the row's reader marks it damaged with (recordedTokenScope), so a record built otherwise
 * reads the same.
 */
export const refusalOfRecord = (r: TokenRecord, maxTtlSeconds: number): TokenRefusal | undefined => {
  if (isRecordDamaged(r)) return 'record_damaged';
  if (r.scopeDamaged === true || (r.scope !== undefined && recordedTokenScope(r.scope, r.role) === 'damaged')) return 'scope_damaged';
  return refusalBySettings(r, maxTtlSeconds);
};

/** The rule access.db's counts take (AccessRegistry: TokenRefusalRule), named here to keep runtime's exports as they are. */
export type TokenRefusalRule = Parameters<AccessRegistry['liveSignedWith']>[2];

/**
 * What every reserved subject holds, in ASCII letters of either case: its prefix, or its id. The only other letter
 * JavaScript's case folding makes one ASCII letter of is the Kelvin sign (k), which no mark holds, so access.db reads,
 * to judge by `isReservedSubject`, every row whose subject holds one, and counts the rest in SQL.
 */
const SUBJECT_MARKS = [SYSTEM_ACTOR_PREFIX, INFRASTRUCTURE_ACTOR_PREFIX, COMMAND_LINE_ISSUER_PREFIX, ...SYSTEM_ACTOR_IDS, INFRASTRUCTURE_ACTOR_ID, COMMAND_LINE_ISSUER]
  .map((mark) => mark.toLowerCase())
  .filter((mark, _, all) => !all.some((other) => other !== mark && mark.startsWith(other)));

/**
 * `refusalOfRecord` as access.db's counts take it: the rule, and what SQL judges alike (review 166). Infinity: no
 * lifetime refused (a local command whose limit is not the service's).
 */
export const refusedUnder = (maxTtlSeconds: number): TokenRefusalRule => ({
  refused: (r) => refusalOfRecord(r, maxTtlSeconds) !== undefined,
  maxTtlSeconds,
  roles: ROLES,
  subjectMarks: SUBJECT_MARKS,
});
