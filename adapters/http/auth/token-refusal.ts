import { SYSTEM_ACTOR_IDS, SYSTEM_ACTOR_PREFIX } from '../../../domain/metadata.ts';
import type { AccessRegistry, TokenRecord } from '../../runtime/index.ts';
import { CLOCK_TOLERANCE_SECONDS } from './jwt.ts';
import { COMMAND_LINE_ISSUER, COMMAND_LINE_ISSUER_PREFIX, INFRASTRUCTURE_ACTOR_ID, INFRASTRUCTURE_ACTOR_PREFIX, isReservedSubject } from './reserved-subjects.ts';
import { ROLES, RoleSchema } from './role.ts';
import { recordedTokenScope } from './token-scope.ts';

/**
 * Why a token neither revoked nor expired is refused on every request all the same: its record does not read (a role
 * this version does not know, a time that is no instant), its scope does not, it is meant to live longer than this
 * service issues tokens for (`tokens.maxTtlSeconds`, lowered since), its subject is one no token may carry, or it was
 * issued later than now (refused until then).
 */
export const TOKEN_REFUSALS = ['record_damaged', 'scope_damaged', 'lifetime_too_long', 'reserved_subject', 'issued_in_the_future'] as const;
export type TokenRefusal = (typeof TOKEN_REFUSALS)[number];

/** What a 401 says for each (the verifier's `reason`). */
export const TOKEN_REFUSAL_REASONS: Readonly<Record<TokenRefusal, string>> = {
  record_damaged: 'its record does not read',
  scope_damaged: 'scope does not match its record',
  lifetime_too_long: 'lifetime longer than tokens.maxTtlSeconds',
  reserved_subject: 'reserved subject',
  issued_in_the_future: 'issued in the future',
};

const isInstant = (at: Date): boolean => !Number.isNaN(at.getTime());

/**
 * A record of which a field does not read as this version reads it: a role it does not know, a time that is no
 * instant. One such row made the whole listing throw (500 for every admin, review 90); the verifier refuses its token.
 */
export const isRecordDamaged = (r: TokenRecord): boolean =>
  !RoleSchema.safeParse(r.role).success || !isInstant(r.issuedAt) || !isInstant(r.expiresAt) || (r.revokedAt !== undefined && !isInstant(r.revokedAt));

/**
 * Issued later than `now`, past the clock tolerance `exp` is checked with (review 320): a lifetime is judged as exp −
 * iat, so a token minted by a clock ahead of this service's (a `credence token create` on the data folder's machine
 * with its clock wrong, or set so) was good from now until its issue time and then for its whole lifetime, past
 * `tokens.maxTtlSeconds`. Refused until its issue time comes; from then it lives no longer than it was issued for.
 */
const issuedInTheFuture = (issuedAt: Date, now: Date): boolean => issuedAt.getTime() - now.getTime() > CLOCK_TOLERANCE_SECONDS * 1000;

/**
 * What this service's settings refuse of a token wherever it was minted (a --data CLI with other settings, another
 * deployment sharing the key, a service since restarted with a lower `tokens.maxTtlSeconds`): a lifetime past the
 * longest it issues, a reserved subject (tokens issued before the subject rule reserved the infrastructure's ids, or
 * edited into access.db), and, at `now`, an issue time not come yet. Judged on a token's claims and on its record alike.
 */
export const refusalBySettings = (
  token: { readonly subject: string; readonly issuedAt: Date; readonly expiresAt: Date },
  maxTtlSeconds: number,
  now: Date | undefined,
): 'lifetime_too_long' | 'reserved_subject' | 'issued_in_the_future' | undefined => {
  if ((token.expiresAt.getTime() - token.issuedAt.getTime()) / 1000 > maxTtlSeconds) return 'lifetime_too_long';
  if (isReservedSubject(token.subject)) return 'reserved_subject';
  if (now !== undefined && issuedInTheFuture(token.issuedAt, now)) return 'issued_in_the_future';
  return undefined;
};

/**
 * The one rule by which a recorded token is refused whatever its expiry and revocation: what the verifier refuses it
 * for, what the listing says it is `refused` for, and what leaves it out of its subject's count of active tokens
 * (`tokens.maxActivePerSubject`) and of its signing key's live tokens (review 158: a token refused on every request
 * was listed `active`, held a place of its subject's, and kept a retired signing key from being destroyed). A scope
 * is judged by the rule the row's reader marks it damaged with (recordedTokenScope), so a record built otherwise
 * reads the same. `now`: also an issue time not come yet, which the verifier and the listing judge; the counts pass
 * none (refusedUnder), since such a token will be good once its time comes: it keeps its place and its signing key.
 */
export const refusalOfRecord = (r: TokenRecord, maxTtlSeconds: number, now?: Date): TokenRefusal | undefined => {
  if (isRecordDamaged(r)) return 'record_damaged';
  if (r.scopeDamaged === true || (r.scope !== undefined && recordedTokenScope(r.scope, r.role) === 'damaged')) return 'scope_damaged';
  return refusalBySettings(r, maxTtlSeconds, now);
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
 * lifetime refused (a local command whose limit is not the service's). No `now`: a token issued in the future counts.
 */
export const refusedUnder = (maxTtlSeconds: number): TokenRefusalRule => ({
  refused: (r) => refusalOfRecord(r, maxTtlSeconds) !== undefined,
  maxTtlSeconds,
  roles: ROLES,
  subjectMarks: SUBJECT_MARKS,
});
