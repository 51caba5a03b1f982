import type Database from 'better-sqlite3';
import { z } from 'zod';
import { CredenceError } from '../../domain/errors.ts';
import { RevocationReason } from '../../domain/events/index.ts';
import { RecordedToken } from '../../domain/metadata.ts';
import { AssociationId, CredentialId } from '../../domain/ids.ts';
import { MAX_POSITION } from '../../domain/positions.ts';
import { streamIdOf } from '../../domain/streams.ts';
import type { TimeWindow } from '../audit/index.ts';
import { edgeOf, isBefore, queryInstantOf, type QueryInstant } from './instants.ts';
import {
  actionsBy, danglingAssociations, danglingCredentials, expiringWindowHoldsAMillisecond, expiringWithin, provisionedUnder, revocations, subscriptionCreated,
  type DanglingAssociationRow, type DanglingCredentialRow, type ExpiringRow, type ProvisionedRow,
} from './queries.ts';

/**
 * An instant or a calendar date (UTC midnight), to every digit it is written with (./instants.ts: taken as the API
 * takes instants elsewhere, not cut to the millisecond). A value of neither form is refused naming both (found in
 * review: zod's `Invalid input` for a union named the parameter but not what it takes).
 */
const INSTANT_FORM = 'an ISO 8601 date-time with its offset, e.g. 2026-01-01T00:00:00Z, or a date, e.g. 2026-01-01';
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: INSTANT_FORM })
  .transform((s) => queryInstantOf(s.length === 10 ? `${s}T00:00:00.000Z` : s));
/** A window's edges as the whole milliseconds events are recorded at (./instants.ts `edgeOf`). */
const windowOf = (p: { readonly from?: QueryInstant | undefined; readonly to?: QueryInstant | undefined }): TimeWindow => ({
  ...(p.from !== undefined ? { from: edgeOf(p.from) } : {}),
  ...(p.to !== undefined ? { to: edgeOf(p.to) } : {}),
});

/** Rows per answer (SER-001: a maximum on every list): `limit` asks fewer or more, up to MAX_ROWS. */
export const DEFAULT_ROWS = 1_000;
export const MAX_ROWS = 10_000;

/** Every query takes `limit`; those in global order take `after`, the position of the last row of the page before. */
const Limit = z
  .union([z.number(), z.string().regex(/^\d{1,6}$/, `a number of rows, 1 to ${MAX_ROWS}`)])
  .pipe(z.coerce.number<string | number>().int().min(1).max(MAX_ROWS))
  .default(DEFAULT_ROWS);
/**
 * What `after` takes, said with the tagged form every page prints first (review 205: since cursors name their log the
 * refusal still named the bare position alone). A tagged cursor reaches this schema without its tag (the HTTP route and
 * the CLI split it off, adapters/http/routes/compliance-rows.ts): one here with a `~` is of no form.
 */
const AFTER_FORM = 'the nextAfter of the page before, <position>~<tag>.<q8>, e.g. 1200~5e0306c9.0b5c4e7a (or a bare position, e.g. 1200)';
const POSITION_RANGE = { message: `a global position, at most 2^63 - 1 (${MAX_POSITION})`, params: { rule: 'position_range' } };
const After = z
  .string()
  // Digits past the 19 a position has are out of its range, not of another form: refused as such before the pattern
  // (review 130: 20 digits were `invalid_format`, 19 above 2^63 - 1 `position_range`); the document keeps the pattern.
  .refine((p) => !/^\d{20,}$/.test(p), { ...POSITION_RANGE, abort: true })
  .regex(/^\d{1,19}$/, AFTER_FORM)
  .transform(BigInt)
  .refine((p) => p <= MAX_POSITION, POSITION_RANGE)
  .optional();
const PAGE = { limit: Limit, after: After };

/**
 * The `after` of a query in an order of its own, `<key>:<id>`: the last row of the page before, by a key in decimal
 * digits (at most `digits`) then an id the domain reads with `Id` (review 142: with no cursor, the rows sharing one
 * key past the first `limit` could not be read by any parameters). `form` says the form to a person; the id is
 * checked as the domain checks it, its rule in the issue's `params.rule`.
 */
const keysetAfter = (form: string, digits: number, Id: z.ZodType, idRule: string, idName: string) =>
  z
    .string()
    // One refusal per value: its first broken rule.
    .max(digits + 1 + 128, { message: form, abort: true })
    .regex(new RegExp(`^\\d{1,${digits}}:`), { message: form, abort: true })
    .refine((c) => Id.safeParse(c.slice(c.indexOf(':') + 1)).success, { message: `${form}: its ${idName} as the domain reads one`, params: { rule: idRule } })
    .transform((c) => ({ key: c.slice(0, c.indexOf(':')), id: c.slice(c.indexOf(':') + 1) }));

/** The keyset cursors as printed (`@<position>~<tag>` names the log, review 199), then the bare form still taken. */
const EXPIRING_CURSOR =
  'the nextAfter of the page before, <notAfterMs>:<credentialId>@<position>~<tag>.<q8>, e.g. 1767225600000:cred-1@1200~5e0306c9.0b5c4e7a (or without its @<position>~<tag>.<q8>)';
const ExpiringAfter = keysetAfter(EXPIRING_CURSOR, 16, CredentialId, 'credential_id', 'credential id')
  .transform(({ key, id }) => ({ notAfterMs: Number(key), credentialId: id }))
  .optional();

const DANGLING_CURSOR =
  'the nextAfter of the page before, <position>:<associationId>@<position>~<tag>.<q8>, e.g. 1042:assoc-1@1042~5e0306c9.0b5c4e7a (or without its @<position>~<tag>.<q8>)';
const DanglingAfter = keysetAfter(DANGLING_CURSOR, 19, AssociationId, 'association_id', 'association id')
  .transform(({ key, id }) => ({ position: BigInt(key), associationId: id }))
  .refine((a) => a.position <= MAX_POSITION, { path: [], ...POSITION_RANGE })
  .optional();

const DANGLING_CREDENTIALS_CURSOR =
  'the nextAfter of the page before, <position>:<credentialId>@<position>~<tag>.<q8>, e.g. 1042:cred-1@1042~5e0306c9.0b5c4e7a (or without its @<position>~<tag>.<q8>)';
const DanglingCredentialsAfter = keysetAfter(DANGLING_CREDENTIALS_CURSOR, 19, CredentialId, 'credential_id', 'credential id')
  .transform(({ key, id }) => ({ position: BigInt(key), credentialId: id }))
  .refine((a) => a.position <= MAX_POSITION, { path: [], ...POSITION_RANGE })
  .optional();

/**
 * `provisioned`'s `after` (review 394): `<listedPosition>:<credentialId>`, the key its rows are sorted by, so a page
 * ends at `limit` among rows one event listed together too (each page's rows past the cursor's). A bare listed position
 * (`<position>~<tag>` as versions before it handed out, whose pages never split a listing, or one a person types) is
 * still taken: the rows listed after every row listed at it. Read in one chain, so a refusal names this form.
 */
const PROVISIONED_CURSOR =
  'the nextAfter of the page before, <listedPosition>:<credentialId>@<position>~<tag>.<q8>, e.g. 1042:cred-1@1042~5e0306c9.0b5c4e7a ' +
  '(or without its @<position>~<tag>.<q8>; or a listed position, e.g. 1200: the rows listed after it)';
const ProvisionedAfter = z
  .string()
  .refine((c) => !/^\d{20,}(?::|$)/.test(c), { ...POSITION_RANGE, abort: true })
  .max(19 + 1 + 128, { message: PROVISIONED_CURSOR, abort: true })
  .regex(/^\d{1,19}(?::|$)/, { message: PROVISIONED_CURSOR, abort: true })
  .refine((c) => !c.includes(':') || CredentialId.safeParse(c.slice(c.indexOf(':') + 1)).success, {
    message: `${PROVISIONED_CURSOR}: its credential id as the domain reads one`,
    params: { rule: 'credential_id' },
  })
  .transform((c): { position: bigint; credentialId?: string } =>
    c.includes(':') ? { position: BigInt(c.slice(0, c.indexOf(':'))), credentialId: c.slice(c.indexOf(':') + 1) } : { position: BigInt(c) },
  )
  .refine((a) => a.position <= MAX_POSITION, { path: [], ...POSITION_RANGE })
  .optional();

/**
 * A number of days as text: decimal digits only, read by Number() once they match (found in review: Number() alone
 * read `0x1e` as 30, `0b11` as 3, `1e1` as 10, and refused `abc` as `expected number, received NaN`). A blank value is
 * refused as such, not read as 0 days (found in review: `?days=` answered an all-clear with no rows); the pattern lets
 * it by so that it is refused once, as blank (an aborting check would make the union answer `Invalid input`).
 */
const Days = z
  .string()
  .trim()
  .min(1, 'a number of days, e.g. 30')
  .regex(/^(?:\d{1,5}(?:\.\d{1,9})?)?$/, 'a number of days in decimal digits, e.g. 30 or 1.5');

/** The rule of a required parameter left out, in the issue's `params.rule` (front ends report it as the rule). */
export const REQUIRED_RULE = 'required';

/**
 * A parameter the query cannot run without: left out, it is refused as `required` with an example, said the same over
 * HTTP and the CLI (review 46: a missing `days` read `Invalid input` from inside a union, a missing `actor`
 * `expected string, received undefined`). Whatever is given goes on to `schema`.
 */
const required = <S extends z.ZodType>(schema: S, example: string) =>
  z
    .unknown()
    .check((ctx) => {
      if (ctx.value !== undefined) return;
      ctx.issues.push({ code: 'custom', message: `is required: ${example}`, params: { rule: REQUIRED_RULE }, input: ctx.value, continue: false });
    })
    .pipe(schema);

/**
 * `actions` names whose: an actor, a token id, or both. Neither is refused as a missing `actor` was before `tokenId`
 * came (the rule `required`, said alike over HTTP and the CLI), the usual question being an actor's; the message says
 * that a token id does too (review 200: it named `actor` alone).
 */
const actorOrToken = (ctx: z.core.ParsePayload<{ readonly actor?: string | undefined; readonly tokenId?: string | undefined }>): void => {
  if (ctx.value.actor !== undefined || ctx.value.tokenId !== undefined) return;
  ctx.issues.push({ code: 'custom', path: ['actor'], message: 'is required unless tokenId is given: the actor id, e.g. operator:alice', params: { rule: REQUIRED_RULE }, input: undefined });
};

/**
 * The rule of a window that can only answer no rows, which would read as an all-clear (in the issue's `params.rule`;
 * review 232: it was zod's `custom`).
 */
export const EMPTY_WINDOW_RULE = 'empty_window';

/**
 * A window [from, to) whose `to` is not later than its `from` holds no instant: refused, naming `to`, rather than
 * answered with no rows (found in review: a reversed window read as "no revocations"). Nor is one holding instants but
 * no whole millisecond, the instants events are recorded at (review 232: from=…00.0001Z&to=…00.0009Z), by its edges.
 */
const isInstant = (value: unknown): value is QueryInstant => typeof value === 'object' && value !== null;
const windowHoldsAMillisecond = (ctx: z.core.ParsePayload<{ readonly from?: QueryInstant | undefined; readonly to?: QueryInstant | undefined }>): void => {
  const { from, to } = ctx.value;
  // Only of edges read as instants: one refused stays the text it was, and its own refusal says enough.
  if (!isInstant(from) || !isInstant(to)) return;
  const message = !isBefore(from, to)
    ? 'must be later than `from`: the window [from, to) holds no instant'
    : edgeOf(from).getTime() >= edgeOf(to).getTime()
      ? 'must be past the first whole millisecond at or after `from`: the window [from, to) holds no whole millisecond, the instants events are recorded at'
      : undefined;
  if (message !== undefined) ctx.issues.push({ code: 'custom', path: ['to'], message, params: { rule: EMPTY_WINDOW_RULE }, input: to });
};

/** `expiring`'s window (now, now + days), by the same rule: a `now` left out is the clock's, a whole millisecond. */
const expiringWindowHoldsOne = (ctx: z.core.ParsePayload<{ readonly days: number; readonly now?: QueryInstant | undefined }>): void => {
  const { days, now } = ctx.value;
  if (typeof days !== 'number' || (now !== undefined && !isInstant(now))) return;
  if (expiringWindowHoldsAMillisecond(now ?? new Date(0), days)) return;
  ctx.issues.push({
    code: 'custom',
    path: ['days'],
    message: 'too few days: the window (now, now + days) holds no whole millisecond, the instants a notAfter is at',
    params: { rule: EMPTY_WINDOW_RULE },
    input: ctx.value.days,
  });
};
/**
 * `provisioned` of a subscription no SubscriptionCreated names: refused, not answered with no rows, which read as an
 * all-clear (review 155: a typo), as a window holding no instant is.
 */
export const unknownSubscription = (subscriptionId: string): CredenceError =>
  new CredenceError({
    code: 'not_found',
    streamId: streamIdOf('subscription', subscriptionId),
    // The id is not repeated: a caller's parameter may hold what it should not (a token pasted by mistake).
    message: 'the `subscription` parameter names no M2M Service Subscription: the compliance read model holds no SubscriptionCreated of that id',
  });

/** The page a query in log order reads: `limit` rows after the `after` its parameters name, if any. */
const pageAfter = (p: { readonly after?: bigint | undefined }, limit: number) => ({ limit, ...(p.after !== undefined ? { after: p.after } : {}) });

export interface ComplianceQuery<S extends z.ZodType = z.ZodType, R extends { readonly position: bigint } = { readonly position: bigint }> {
  readonly summary: string;
  /** Parameters by name, as the CLI passes them (strings) or a library caller does. */
  readonly params: S;
  /** Whether the rows come in global order, so that `after` pages through them (for these parameters). */
  readonly paged: boolean | ((params: z.infer<S>) => boolean);
  /**
   * For a query in an order of its own rather than global order: the `after` its last row gives the next page (a key
   * of that order, unique per row, so a page ends at `limit`). Not a position: nothing compares it with the log's head.
   */
  readonly cursorOf?: (row: R) => string;
  /** The event a `cursorOf` cursor is tagged with, when not the row's own `position` (`provisioned`: the one that listed it). */
  readonly cursorAt?: (row: R) => bigint;
  /** At most `limit` rows (the answer asks one more than it returns, to know whether more matched). */
  run(db: Database.Database, params: z.infer<S>, now: Date, limit: number): readonly R[];
}

const query = <S extends z.ZodType, R extends { readonly position: bigint }>(q: ComplianceQuery<S, R>): ComplianceQuery<S, R> => q;

/** The named compliance queries, for `credence query <name>` and any other front end. */
export const COMPLIANCE_QUERIES = {
  revocations: query({
    summary:
      'revocations in a window [from, to), optionally of one RFC 5280 reason; order=newest: the latest `limit` first; ' +
      'by=occurred (the default): by when each took effect, so a past window can gain a revocation recorded late; ' +
      'by=recorded: by when each was recorded',
    params: z
      .strictObject({
        reason: RevocationReason.optional(),
        from: Instant.optional(),
        to: Instant.optional(),
        /**
         * What `from`, `to` and `newest` go by (review 305): `occurred` (left out: the default) or `recorded`. Not
         * defaulted here: a cursor's digest is of the parameters parsed, and one handed out before `by` was taken
         * goes on paging the same query.
         */
        by: z.enum(['occurred', 'recorded']).optional(),
        /**
         * `log` (the default): in log order, paged with `after`. `newest`: the `limit` latest, newest first, without
         * paging; a dashboard's "recently revoked" (found in review: the first 1,000 of a window hid the latest).
         */
        order: z.enum(['log', 'newest']).default('log'),
        ...PAGE,
      })
      .refine((p) => !(p.order === 'newest' && p.after !== undefined), {
        path: ['after'],
        message: 'pages in log order: not with order=newest',
        params: { rule: 'after_with_order_newest' },
      })
      .check(windowHoldsAMillisecond),
    paged: (p) => p.order === 'log',
    run: (db, p, _now, limit) =>
      revocations(db, { ...windowOf(p), ...(p.reason !== undefined ? { reason: p.reason } : {}), ...(p.by !== undefined ? { by: p.by } : {}) }, pageAfter(p, limit), p.order),
  }),
  actions: query({
    summary: 'every action of one actor, or recorded with one API token (tokenId; of that actor too, given both), optionally in a window [from, to)',
    params: z
      .strictObject({
        actor: z.string().min(1).max(200).optional(),
        /**
         * The id of the token the actions came with (review 196), bounded as events record it; the front ends read it
         * first as the service issues token ids (adapters/http/auth/token-ids.ts), which this layer may not import.
         */
        tokenId: RecordedToken.shape.id.optional(),
        from: Instant.optional(),
        to: Instant.optional(),
        ...PAGE,
      })
      .check(actorOrToken)
      .check(windowHoldsAMillisecond),
    paged: true,
    run: (db, p, _now, limit) => actionsBy(db, p.tokenId !== undefined ? { tokenId: p.tokenId, actor: p.actor } : { actor: p.actor! }, windowOf(p), pageAfter(p, limit)),
  }),
  provisioned: query({
    summary:
      'credentials provisioned while their node was enrolled under an M2M Service Subscription, in the order they were listed ' +
      '(`listedPosition`, then credential id, which `after` pages by: a credential provisioned before its node was known is listed when the enrolment or association naming it is)',
    params: z.strictObject({ subscription: required(z.string().min(1).max(128), 'the M2M Service Subscription id, e.g. sub-1'), limit: Limit, after: ProvisionedAfter }),
    paged: false,
    // Ordered by listed position then credential id (unique per row): rows one event listed together page at `limit` too (review 394).
    cursorOf: (row: ProvisionedRow) => `${row.listedPosition}:${row.credentialId}`,
    cursorAt: (row: ProvisionedRow) => row.listedPosition,
    run: (db, p, _now, limit) => {
      if (!subscriptionCreated(db, p.subscription)) throw unknownSubscription(p.subscription);
      return provisionedUnder(db, p.subscription, { limit }, p.after);
    },
  }),
  expiring: query({
    summary: 'credentials live now whose notAfter falls within the N days after --now (default the clock; --now moves the window only)',
    params: z
      .strictObject({
        // Above 0: a window of no days holds no instant (review 232; the document states it, exclusiveMinimum). Refused
        // once, so not again by the window's check below.
        days: required(
          z.union([z.number(), Days]).pipe(z.coerce.number<string | number>().gt(0, { message: 'a number of days above 0, e.g. 30: a window of 0 days holds no instant', abort: true }).max(36_500)),
          'a number of days, e.g. 30',
        ),
        now: Instant.optional(),
        limit: Limit,
        after: ExpiringAfter,
      })
      .check(expiringWindowHoldsOne),
    paged: false,
    // The row's notAfter is the text not_after_ms was read from (Date.parse), so it gives the same key back.
    cursorOf: (row: ExpiringRow) => `${Date.parse(row.notAfter)}:${row.credentialId}`,
    run: (db, p, now, limit) => expiringWithin(db, p.now ?? now, p.days, { limit }, p.after),
  }),
  'dangling-associations': query({
    summary:
      'live associations whose credential, node (revoked, enrolment expired), App-ID (revoked) or App-ID enrolment (ended) has ended, ' +
      'one row per ended parent, naming it and how it ended (must be empty)',
    params: z.strictObject({ limit: Limit, after: DanglingAfter }),
    paged: false,
    // Ordered by the position that ended the parent, then association id: several associations share a parent's ending.
    cursorOf: (row: DanglingAssociationRow) => `${row.position}:${row.associationId}`,
    run: (db, p, _now, limit) => danglingAssociations(db, { limit }, p.after),
  }),
  'dangling-credentials': query({
    summary:
      'live credentials (issued or provisioned) whose node (revoked, enrolment expired) or App-ID (revoked) has ended: revocations the ' +
      'cascade could not carry out (its dead letters), one row per credential, naming its owner and how it ended (must be empty)',
    params: z.strictObject({ limit: Limit, after: DanglingCredentialsAfter }),
    paged: false,
    // Ordered by the position that ended the owner, then credential id: several credentials share an owner's ending.
    cursorOf: (row: DanglingCredentialRow) => `${row.position}:${row.credentialId}`,
    run: (db, p, _now, limit) => danglingCredentials(db, { limit }, p.after),
  }),
} as const;

/** What a query answers: at most `limit` rows, whether more matched, and where the next page starts when it pages. */
export interface ComplianceAnswer {
  readonly rows: readonly { readonly position: bigint }[];
  readonly truncated: boolean;
  /** With `truncated`, for a query in global order (a position) or one with a cursor (`expiring`, `provisioned`, …): pass it as `after` for the next page. */
  readonly nextAfter?: bigint | string;
  /** With a cursor `nextAfter`, the position of the event its tag names: its last row's, or for `provisioned` the one that listed it. */
  readonly nextAt?: bigint;
}

type Row = { readonly position: bigint };

/**
 * The place in the log a parsed `after` names, if any: a position, or the position a `provisioned`,
 * `dangling-associations` or `dangling-credentials` cursor starts from. Checked against the store's head by the front ends (an `after` past it
 * would answer an empty last page, which a pager reads as "no more rows"); `expiring`'s cursor names an instant, not a
 * place in the log.
 */
export const positionOfAfter = (after: unknown): bigint | undefined =>
  typeof after === 'bigint' ? after : typeof after === 'object' && after !== null && typeof (after as { position?: unknown }).position === 'bigint' ? (after as { position: bigint }).position : undefined;

/** Runs a query whose parameters its own schema parsed (`params.limit` is there, defaulted). */
export const answerQuery = (name: ComplianceQueryName, db: Database.Database, params: unknown, now: Date): ComplianceAnswer => {
  const definition = COMPLIANCE_QUERIES[name];
  const { limit } = params as { readonly limit: number };
  // The name picked the definition and its own schema parsed the parameters, so they match.
  const run = definition.run as unknown as (d: Database.Database, p: unknown, n: Date, l: number) => readonly { readonly position: bigint }[];
  const rows = run(db, params, now, limit + 1);
  if (rows.length <= limit) return { rows, truncated: false };
  if ('cursorOf' in definition) {
    // The name picked the definition: its `cursorOf` and `cursorAt` read its own rows.
    const last = rows[limit - 1]!;
    const nextAt = 'cursorAt' in definition ? (definition.cursorAt as (row: Row) => bigint)(last) : last.position;
    return { rows: rows.slice(0, limit), truncated: true, nextAfter: (definition.cursorOf as (row: Row) => string)(last), nextAt };
  }
  const paged = typeof definition.paged === 'function' ? (definition.paged as (p: unknown) => boolean)(params) : definition.paged;
  if (!paged) return { rows: rows.slice(0, limit), truncated: true };
  const page = rows.slice(0, limit);
  return { rows: page, truncated: true, nextAfter: page.at(-1)!.position };
};

export type ComplianceQueryName = keyof typeof COMPLIANCE_QUERIES;
export const COMPLIANCE_QUERY_NAMES = Object.keys(COMPLIANCE_QUERIES) as ComplianceQueryName[];
