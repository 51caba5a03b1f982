import type Database from 'better-sqlite3';
import { z } from 'zod';
import { RevocationReason } from '../../domain/events/index.ts';
import { actionsOfActor, danglingAssociations, expiringWithin, provisionedUnder, revocations } from './queries.ts';

/** An instant or a calendar date (UTC midnight), as a Date. */
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00.000Z` : s));

export interface ComplianceQuery<S extends z.ZodType = z.ZodType, R extends { readonly position: bigint } = { readonly position: bigint }> {
  readonly summary: string;
  /** Parameters by name, as the CLI passes them (strings) or a library caller does. */
  readonly params: S;
  run(db: Database.Database, params: z.infer<S>, now: Date): readonly R[];
}

const query = <S extends z.ZodType, R extends { readonly position: bigint }>(q: ComplianceQuery<S, R>): ComplianceQuery<S, R> => q;

/** The named compliance queries, for `credence query <name>` and any other front end. */
export const COMPLIANCE_QUERIES = {
  revocations: query({
    summary: 'revocations in a window [from, to), optionally of one RFC 5280 reason',
    params: z.strictObject({ reason: RevocationReason.optional(), from: Instant.optional(), to: Instant.optional() }),
    run: (db, p) => revocations(db, p),
  }),
  actions: query({
    summary: 'every action of one actor, optionally in a window [from, to)',
    params: z.strictObject({ actor: z.string().min(1).max(200), from: Instant.optional(), to: Instant.optional() }),
    run: (db, p) => actionsOfActor(db, p.actor, p),
  }),
  provisioned: query({
    summary: 'credentials provisioned while their node was enrolled under an M2M Service Subscription',
    params: z.strictObject({ subscription: z.string().min(1).max(128) }),
    run: (db, p) => provisionedUnder(db, p.subscription),
  }),
  expiring: query({
    summary: 'live credentials whose notAfter falls within the next N days (from --now, default the clock)',
    // A blank value is refused, not read as 0 days (found in review: `?days=` answered an all-clear with no rows).
    params: z.strictObject({ days: z.union([z.number(), z.string().trim().min(1, 'a number of days, e.g. 30')]).pipe(z.coerce.number<string | number>().min(0).max(36_500)), now: Instant.optional() }),
    run: (db, p, now) => expiringWithin(db, p.now ?? now, p.days),
  }),
  'dangling-associations': query({
    summary: 'live associations whose credential is revoked or expired (must be empty)',
    params: z.strictObject({}),
    run: (db) => danglingAssociations(db),
  }),
} as const;

export type ComplianceQueryName = keyof typeof COMPLIANCE_QUERIES;
export const COMPLIANCE_QUERY_NAMES = Object.keys(COMPLIANCE_QUERIES) as ComplianceQueryName[];
