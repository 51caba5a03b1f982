import { hash } from 'node:crypto';
import { z } from 'zod';
import { entityExists } from '../../../domain/entity-exists.ts';
import { isCredenceError } from '../../../domain/errors.ts';
import { MAX_POSITION, type ResumePoint } from '../../../domain/positions.ts';
import type { EventStore, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { parseStreamId } from '../../../domain/streams.ts';
import { pseudonymNamedBy } from '../../../domain/transparency/bundle.ts';
import type { COMPLIANCE_QUERIES, ComplianceAnswer, ComplianceQueryName } from '../../../projections/compliance/index.ts';
import { recordAtPosition } from '../../../projections/runtime/index.ts';
import { canonicalTagger, eventIdOf, holdsTaggedEvent, type EventTagger, type TaggerOnDemand } from '../sse/event-id.ts';
import { entityRecordBound, ServiceLimitsConfig } from '../service-limits-config.ts';
import { csvColumns } from './csv.ts';
import { TimelineEntry } from './entities.ts';
import { DecimalString } from './wire.ts';

/**
 * The wire form of each compliance query's rows (bigints as decimal strings), the source of its CSV columns: a CSV
 * export has one header whichever page, and whichever optional fields the rows at hand carry, or none.
 */

type RowOf<N extends ComplianceQueryName> = ReturnType<(typeof COMPLIANCE_QUERIES)[N]['run']>[number];
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * A row schema with exactly the top-level fields of the query's rows: a field added to one and not the other does
 * not compile (the call then asks for a second argument), rather than moving a column of the CSV.
 */
const rowOf =
  <N extends ComplianceQueryName>() =>
  <S extends z.ZodObject>(schema: S, ..._sameFields: SameKeys<keyof z.infer<S>, keyof RowOf<N>> extends true ? [] : [never]): S =>
    schema;

export const COMPLIANCE_ROWS = {
  revocations: rowOf<'revocations'>()(
    z.object({
      position: DecimalString,
      streamId: z.string(),
      kind: z.string(),
      id: z.string(),
      reason: z.string(),
      occurredAt: z.string(),
      actor: z.string(),
      // Last, so that a CSV reader by column index finds the columns before it where they were (review 197).
      recordedAt: z.string(),
      // Review 327: what the `actions` row of the same event says, in its own schema's words (hence after recordedAt).
      signature: TimelineEntry.shape.signature
        .optional()
        .describe("the audit trail's judgement of the revocation's request signature, as its `actions` row gives it; absent while the audit trail has not reached the event"),
      token: TimelineEntry.shape.token,
    }),
  ),
  actions: rowOf<'actions'>()(TimelineEntry),
  provisioned: rowOf<'provisioned'>()(
    z.object({
      position: DecimalString,
      enrolmentPosition: DecimalString,
      credentialId: z.string(),
      nodeId: z.string(),
      method: z.string(),
      occurredAt: z.string(),
      // Last, so that a CSV reader by column index finds the columns before it where they were (review 107).
      listedPosition: DecimalString,
    }),
  ),
  expiring: rowOf<'expiring'>()(
    z.object({
      position: DecimalString,
      credentialId: z.string(),
      owner: z.object({
        kind: z.string(),
        id: z.string(),
        appId: z.string().optional().describe("an `ae` owner's App-ID, when the credential names it"),
        nodeId: z.string().optional().describe("a `cse` owner's node, when the credential names it"),
      }),
      notAfter: z.string(),
      status: z.string(),
    }),
  ),
  'dangling-associations': rowOf<'dangling-associations'>()(
    z.object({
      position: DecimalString,
      associationPosition: DecimalString,
      associationId: z.string(),
      associationStatus: z.string(),
      credentialId: z.string(),
      credentialStatus: z.string(),
      // Review 249: the parent that ended (the credential, its node, its App-ID, its App-ID's enrolment) and how.
      parent: z.object({
        kind: z.string().describe('credential, node, application or application-enrolment'),
        id: z.string(),
        endedBy: z.string().describe('the event that ended it, at `position`: CredentialRevoked, CredentialExpired, NodeRevoked, NodeEnrolmentExpired, ApplicationRevoked or ApplicationEnrolmentEnded'),
      }),
    }),
  ),
  // Review 314: a credential the cascade left live under its ended node or App-ID, and that owner.
  'dangling-credentials': rowOf<'dangling-credentials'>()(
    z.object({
      position: DecimalString,
      credentialPosition: DecimalString,
      credentialId: z.string(),
      credentialStatus: z.string().describe('issued or provisioned: live'),
      issuedTo: z.object({
        kind: z.string().describe('whom the credential was issued to: node, cse (naming its node), app or ae (naming its App-ID)'),
        id: z.string(),
      }),
      owner: z.object({
        kind: z.string().describe('node or application'),
        id: z.string(),
        endedBy: z.string().describe('the event that ended it, at `position`: NodeRevoked, NodeEnrolmentExpired or ApplicationRevoked'),
      }),
    }),
  ),
} satisfies Record<ComplianceQueryName, z.ZodObject>;

/**
 * Columns added after a query's first CSV, moved last: a CSV reader by column index finds the columns before them where
 * they were (review 107), though the JSON row nests them where they belong (review 155: `expiring`'s owner's App-ID and node).
 */
const ADDED_LAST: Partial<Record<ComplianceQueryName, readonly string[]>> = {
  expiring: ['owner.appId', 'owner.nodeId'],
  // Review 188: the token an action came with and who issued it; review 196: the token it was issued with.
  actions: ['token.id', 'token.issuedBy', 'token.issuedWith'],
  // Review 249: which parent of the association ended, and how.
  'dangling-associations': ['parent.kind', 'parent.id', 'parent.endedBy'],
};

/** Each query's CSV header, `position` first as in every row schema. */
export const csvColumnsOf = (name: ComplianceQueryName): readonly string[] => CSV_COLUMNS.get(name)!;

const CSV_COLUMNS = new Map(
  Object.entries(COMPLIANCE_ROWS).map(([name, schema]) => {
    const last = ADDED_LAST[name as ComplianceQueryName] ?? [];
    return [name, [...csvColumns(schema).filter((c) => !last.includes(c)), ...last]];
  }),
);

/**
 * The rows of a cut answer the caller is told: one at a pseudonym's stream (an `actions` row of its rotation or
 * resolution; any query's row naming such a `streamId`) only as the canonical event stream tells its events, to an
 * auditor who recorded a resolution of that pseudonym (`told`: ./pseudonym-reads.ts toldOfStreamIds, which the replay findings ask too). Review 251: an
 * operator who rotated node X on demand found the new pseudonym's stream in their own `actions` rows, X linked to it
 * with no resolution recorded. Left out after the cut, never before it: the answer's `nextAfter` and `truncated` stay
 * those of the rows the query read, so a page may be short (or empty while more follow) and the next one starts past
 * the rows left out, whichever was last.
 */
export const rowsTold = async <R extends object>(rows: readonly R[], told: (streamId: string) => Promise<boolean>): Promise<R[]> => {
  const out: R[] = [];
  for (const row of rows) {
    const streamId = (row as { readonly streamId?: unknown }).streamId;
    // Asked only of a pseudonym's row: the others are told whoever asks, and are not held a turn each.
    if (typeof streamId !== 'string' || parseStreamId(streamId)?.kind !== 'pseudonym' || (await told(streamId))) out.push(row);
  }
  return out;
};

/*
 * A compliance cursor names the event its page ended at, as an event stream's id does (../sse/event-id.ts,
 * `<position>~<tag>`), so that a cursor of another log (saved before a restore from an older backup, or taken from
 * another instance or a re-created store) is refused rather than paged after: a bare position at or below the head was
 * answered 200, and the rows up to it skipped without a word (review 199). Revocation and action exports are evidence.
 *
 * - revocations, actions: `<position>~<tag>`, the event at the cursor's own position (the last row's).
 * - provisioned, expiring, dangling-associations, dangling-credentials: `<key>:<id>@<position>~<tag>`, the key of the
 *   answer's own order then, after an `@` (which no id holds, so the cursor splits one way only), the id of the event
 *   that proves the page's last row; for provisioned (review 394: `<listedPosition>:<credentialId>`) the event that
 *   listed it, at the key's own position. Its `<position>~<tag>`, as versions before it handed out, is still taken.
 *   expiring's key is an instant, no place in the log: the row's event is what proves the cursor was this log's (the
 *   head's would do too, but on an EventStoreDB shared with other applications the head may be their record, scavenged
 *   later). For dangling-associations and dangling-credentials it is the event at the key's own position.
 *
 * Compliance is read with canonical identifiers (operators, auditors, admins), so the canonical tag is the one, but at
 * a pseudonym's event: its event id is derived from the Node-ID (the registration a first rotation reacts to, an
 * interval's epoch), which is why its `actions` row leaves the id out; a plain hash of it in the cursor let an admin
 * compute the tag of every node's rotation from the node list and link each pseudonym to its node and epoch, and a
 * guessed `after` answered 200 or 409 as the guess was right (review 208; SER-011, SER-025). There the tag is the
 * pseudonymised stream's, keyed in the Secure Environment (../sse/event-id.ts), and the cursor is checked against that
 * tag alone. A bare cursor (what earlier versions handed out, or a person types) is taken as it comes, unchecked.
 *
 * A cursor names its query and parameters too, after its tag: `.<q8>`, 8 hex digits of SHA-256 of the query's name and
 * the parameters that decide its rows and their order as its own schema read them (`queryDigestOf`: not `limit`, which
 * only cuts the pages, nor `after`), so that one given to another query, or to the same one with other parameters, is
 * refused (`cursor_of_another_query`) rather than paged after: a `revocations` cursor given to `actions` answered the
 * actions after its position, every earlier one skipped without a word, and on `provisioned` an empty all-clear; one
 * actor's cursor was taken for another's (review 272). Where the cursor's event cannot be tagged a position still
 * carries it (`<position>.<q8>`); a keyset key's id may end in `.` and 8 hex digits, so an untagged keyset cursor goes
 * without. A cursor without the digest (`<position>~<tag>`, as versions before it handed out, mid-paging across an
 * upgrade) is taken as bare cursors are: its tag checked, its query not.
 */

const DIGEST = '(?:\\.([0-9a-f]{8}))';
const TAGGED_POSITION = new RegExp(`^(0|[1-9][0-9]{0,18})~([0-9a-f]{8})${DIGEST}?$`);
const DIGESTED_POSITION = new RegExp(`^(0|[1-9][0-9]{0,18})${DIGEST}$`);
const TAGGED_KEYSET = new RegExp(`^(\\d{1,19}:[A-Za-z0-9][A-Za-z0-9._:~-]{0,127})@(0|[1-9][0-9]{0,18})~([0-9a-f]{8})${DIGEST}?$`);

/** The tagged forms as patterns, for the document (OpenAPI) beside the bare ones the queries' own schemas state. */
export const TAGGED_CURSOR_PATTERNS = [TAGGED_POSITION.source, DIGESTED_POSITION.source, TAGGED_KEYSET.source] as const;

/**
 * An `after` as the query's own schema reads it (`after`), the event it names (`endedAt`) when it is tagged, and the
 * digest of the query and parameters it was given for (`query`) when it carries one.
 */
export interface ComplianceCursor {
  readonly after: string;
  readonly endedAt?: ResumePoint;
  readonly query?: string;
}

/** Splits a tagged or digested cursor; any other text (a bare cursor, or one of no form) goes on whole to the query's schema. */
export const complianceCursorOf = (after: string): ComplianceCursor => {
  const position = TAGGED_POSITION.exec(after);
  const keyset = position === null ? TAGGED_KEYSET.exec(after) : null;
  const digested = position === null && keyset === null ? DIGESTED_POSITION.exec(after) : null;
  if (digested !== null) return BigInt(digested[1]!) > MAX_POSITION ? { after } : { after: digested[1]!, query: digested[2]! };
  const [cursor, at, tag, query] =
    position !== null ? [position[1]!, position[1]!, position[2]!, position[3]] : keyset !== null ? [keyset[1]!, keyset[2]!, keyset[3]!, keyset[4]] : [];
  // A position of 19 digits past 2^63 - 1 is no event's (nor one a store can be asked for): the value goes on whole,
  // and the query's schema refuses it as no cursor of its form.
  if (cursor === undefined || BigInt(at!) > MAX_POSITION) return { after };
  return { after: cursor, endedAt: { position: BigInt(at!), tag: tag! }, ...(query !== undefined ? { query } : {}) };
};

/** Parameters that page, not choose rows: left out of the digest, so a page of another `limit` goes on. */
const PAGING_ONLY = new Set(['limit', 'after']);

/** `value` with its keys in order and no undefined one; instants (a Date) as ISO text, bigints as decimal text. */
const canonical = (value: unknown): unknown => {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString(10);
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]));
};

/**
 * The digest a cursor of `name` carries: of the parameters its own schema parsed (`params`), so that the same ones
 * written another way (`from=2026-01-01`, `from=2026-01-01T00:00:00Z`; `order` left out, `order=log`; `by` left out,
 * `by=occurred`) page on, and any that would choose other rows or another order do not. The HTTP route and the CLI
 * both ask it here.
 */
export const queryDigestOf = (name: ComplianceQueryName, params: unknown): string =>
  // `by=occurred` is the default `by` left out says (review 394: a cursor of a page without it was refused on a page
  // with it): digested as left out, so that cursors handed out before keep their digest.
  digestOf(name, Object.entries(params as object).filter(([k, v]) => !PAGING_ONLY.has(k) && !(k === 'by' && v === 'occurred')));

const digestOf = (name: ComplianceQueryName, chosen: readonly (readonly [string, unknown])[]): string =>
  hash('sha256', JSON.stringify(['credence/compliance-cursor/v1', name, canonical(Object.fromEntries(chosen))]), 'hex').slice(0, 8);

/**
 * The digests a cursor that pages `name` with `params` may carry: `queryDigestOf`'s, and where `by=occurred` is written
 * out the one versions before review 394 handed out for it, `by` digested too (review 403: such a cursor, mid-paging
 * across the upgrade, was refused on the very query it was given for). Not the other way: before, a cursor of a page
 * without `by` did not page one with it either.
 */
const digestsPaging = (name: ComplianceQueryName, params: unknown): readonly string[] => {
  const now = queryDigestOf(name, params);
  if ((params as { readonly by?: unknown }).by !== 'occurred') return [now];
  return [now, digestOf(name, Object.entries(params as object).filter(([k]) => !PAGING_ONLY.has(k)))];
};

/** The rule a cursor of another query or other parameters is refused by (HTTP 400 naming `query.after`; the CLI's exit 2). */
export const CURSOR_OF_ANOTHER_QUERY = 'cursor_of_another_query';

/**
 * Why `cursor` does not page `name` with `params` (the parameters its own schema parsed), said whole; none when it
 * carries no digest (a bare or older cursor, above) or one of theirs (`digestsPaging`). `without`: how to leave the
 * cursor out (`after` over HTTP, `--after` in the CLI). The HTTP route and the CLI both ask it here.
 */
export const cursorOfAnotherQuery = (cursor: ComplianceCursor | undefined, name: ComplianceQueryName, params: unknown, without: string): string | undefined =>
  cursor?.query === undefined || digestsPaging(name, params).includes(cursor.query)
    ? undefined
    : 'a cursor given by another query or other parameters (those that choose its rows and their order: all but limit), ' +
      `so paging after it would skip or repeat rows without a word; page again from the start, without ${without}, with the parameters you mean`;

/** The rule a cursor of no form the query hands out is refused by (HTTP 400 naming `query.after`; the CLI's exit 2). */
export const CURSOR_FORM = 'cursor_form';

/**
 * Why a tagged `provisioned` cursor is of no form it hands out, said whole: its `@<position>~<tag>` names the event that
 * listed its last row, at the key's own listed position, and one naming another event (`1:c:1@13~…` of `13:c:1@13~…`)
 * had its tag checked at one position and paged after the other, rows already read among them (review 403). None for
 * another query, an untagged cursor or a bare listed position. `after`: the cursor as the query's own schema parsed it.
 */
export const cursorOfTwoPositions = (name: ComplianceQueryName, cursor: ComplianceCursor | undefined, after: unknown, without: string): string | undefined => {
  const listed = name === 'provisioned' && typeof after === 'object' && after !== null ? (after as { readonly position?: unknown }).position : undefined;
  const at = cursor?.endedAt?.position;
  if (typeof listed !== 'bigint' || at === undefined || listed === at) return undefined;
  return (
    `a provisioned cursor names the event that listed its last row, <listedPosition>:<credentialId>@<position>~<tag>: its listed position (${listed}) ` +
    `and its @ position (${at}) must be the same; give the nextAfter of the page before as it came, or page again from the start, without ${without}`
  );
};

/**
 * Whether `record` is a pseudonym's: of its stream, or a fact claim its rotation left on another stream (EventStoreDB:
 * domain/transparency/bundle.ts), whose id is derived from the rotation's.
 */
const ofPseudonym = (record: RecordedEvent): boolean => parseStreamId(record.streamId)?.kind === 'pseudonym' || pseudonymNamedBy(record) !== undefined;

/**
 * The tagger of a cursor at `record`: the keyed one at a pseudonym's event (none where the server has no pseudonym
 * key: such a cursor goes untagged), the canonical one at any other.
 */
const taggerAt = async (record: RecordedEvent, keyed: TaggerOnDemand | undefined): Promise<EventTagger | undefined> =>
  !ofPseudonym(record) ? canonicalTagger : keyed === undefined ? undefined : keyed();

/** Names no event: a tag at a pseudonym's event is confirmed by the keyed tag or by nothing, never by a plain hash. */
const NO_TAG: EventTagger = () => '';

/**
 * The taggers a cursor at `position` is checked by (./resume-point.ts): the one its event's cursors are tagged with,
 * and that alone, so a 200 or a 409 confirms nothing a caller could compute (above).
 */
export const cursorTaggersAt = (store: EventStore, position: bigint, keyed: TaggerOnDemand | undefined): readonly TaggerOnDemand[] => [
  async () => {
    const record = await recordAtPosition(store, position);
    return (record === undefined ? undefined : await taggerAt(record, keyed)) ?? NO_TAG;
  },
];

/**
 * Whether this log holds, at a tagged cursor's position, the event it names (the event streams' check). `keyed`: the
 * pseudonymised stream's tagger, without which no tag at a pseudonym's event is confirmed.
 */
export const holdsCursorEvent = (store: EventStore, endedAt: ResumePoint, keyed?: TaggerOnDemand): Promise<boolean> =>
  holdsTaggedEvent(store, endedAt, cursorTaggersAt(store, endedAt.position, keyed));

/**
 * Whether the event at `position` is a pseudonym's, where a cursor's tag is the keyed one: what a command without the
 * pseudonym key (one on the data folder) cannot check, and refuses saying so rather than as another log's (review 211).
 */
export const cursorKeyedAt = async (store: EventStore, position: bigint): Promise<boolean> => {
  const record = await recordAtPosition(store, position);
  return record !== undefined && ofPseudonym(record);
};

/**
 * The `nextAfter` of a cut answer, tagged: its event's id for a position, the last row's event id after `@` for a key
 * of the answer's own order; then `.<q8>`, `query` (`queryDigestOf`), which the HTTP route and the CLI both give.
 * Untagged where no event is at the position (0; a record scavenged from a shared cluster), or at a pseudonym's event
 * without `keyed` (above).
 */
export const taggedNextAfter = async (store: EventStore, answer: ComplianceAnswer, keyed?: TaggerOnDemand, query?: string): Promise<string | undefined> => {
  const { nextAfter } = answer;
  if (nextAfter === undefined) return undefined;
  const digest = query === undefined ? '' : `.${query}`;
  const position = typeof nextAfter === 'bigint' ? nextAfter : (answer.nextAt ?? answer.rows.at(-1)?.position);
  const record = position === undefined || position === 0n ? undefined : await recordAtPosition(store, position);
  const tagOf = record === undefined ? undefined : await taggerAt(record, keyed);
  // Untagged, a keyset key goes without the digest too (above: an id may end as one does).
  if (record === undefined || tagOf === undefined) return typeof nextAfter === 'bigint' ? `${nextAfter}${digest}` : nextAfter;
  const id = eventIdOf(record, tagOf);
  return `${typeof nextAfter === 'bigint' ? id : `${nextAfter}@${id}`}${digest}`;
};

/** The records looked through for a subscription's first event: the service's default limits.maxEntityRecords. */
const DEFAULT_ENTITY_RECORDS = entityRecordBound(ServiceLimitsConfig.parse({}));

/**
 * `answer()`, or no rows where it names a subscription the read model holds no SubscriptionCreated of while it is
 * behind (`eventsBehind`) and the store holds it: nothing provisioned under it can have been handled either, and the
 * answer's lag says so. Any other refusal (and that one where the store has no such subscription: review 155, a typo's
 * empty list read as an all-clear) is thrown as it came. The HTTP route and the CLI's local path both answer by it
 * (review 272: the CLI refused a subscription a rebuilding read model had not reached yet).
 */
export const answeredOrBehind = async (
  answer: () => ComplianceAnswer,
  store: EventStore,
  eventsBehind: number,
  maxRecords = DEFAULT_ENTITY_RECORDS,
): Promise<ComplianceAnswer> => {
  try {
    return answer();
  } catch (error) {
    if (!isCredenceError(error, 'not_found') || error.problem.code !== 'not_found' || eventsBehind === 0) throw error;
    // A subscription stream holding only fact claims (EventStoreDB) is no subscription (review 294): refused as one.
    if (await entityExists(store, error.problem.streamId, maxRecords)) return { rows: [], truncated: false };
    throw error;
  }
};
