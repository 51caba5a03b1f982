import { z } from 'zod';
import { CredentialId } from '../../../domain/ids.ts';
import { QueryName } from './path-names.ts';

/**
 * Every API v1 answer the console reads, parsed before a page uses it (api.ts `json`). They mirror the server's
 * response schemas (adapters/http/routes/entities.ts, entity-graph.ts, compliance.ts, the compliance queries'
 * rows), which the console cannot import: they live beside Fastify and Node-only code, and the console imports only
 * its own files and domain/ (depcheck `console-imports-only-domain`). Only the fields a page shows are required;
 * other fields are dropped. Sizes are bounded as every boundary is: a page never renders an answer it did not check.
 */

const MAX_TEXT = 4096;
const MAX_ROWS = 100_000;

const Text = z.string().max(MAX_TEXT);
/** A global position or stream revision on the wire: a decimal string (the server's DecimalString). */
const Position = z.string().regex(/^\d{1,20}$/, 'must be a decimal position');
const Count = z.number().int().nonnegative();
/**
 * An instant the console does date arithmetic on (the time slider): an ISO 8601 date-time, as the domain records
 * occurredAt (domain/ids.ts `Instant`), and one Date.parse reads. Anything else would be NaN, and
 * `new Date(NaN).toISOString()` throws inside a page's render, leaving it on "Loading…" for good.
 */
const Instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time' })
  .max(64)
  .refine((text) => !Number.isNaN(Date.parse(text)), 'must be a date-time this browser reads');
const Context = z.record(Text, z.unknown());
const Cause = z.object({ position: Position, streamId: Text, type: Text });

/** GET /v1/entities?kind=: one page of entity summaries. */
export const EntityPage = z.object({
  // A pseudonym's row has no time (review 227: it named its node beside the registrations).
  items: z.array(z.object({ kind: Text, id: Text, state: Text, updatedAt: Text.optional() })).max(1_000),
  nextCursor: Text.optional(),
});

/** GET /v1/entities/{kind}/{id}: the entity now. */
export const Entity = z.object({
  streamId: Text,
  kind: Text,
  id: Text,
  state: Text,
  revision: Position,
  // Left out of a pseudonym but to an auditor who recorded a resolution of it (review 227).
  position: Position.optional(),
  updatedAt: Text.optional(),
  context: Context,
  // The first stored event its replay refuses (review 237: a broken history was a 500, now the entity as applied), and
  // its findings counted as the fleet's: those by a newer rule, or following one, are no broken history (review 325).
  // A server before the counts sends none: its finding is then taken as a broken history.
  broken: z
    .object({
      position: Position.optional(),
      reason: Text,
      findingsTotal: Count.optional(),
      findingsByNewerRules: Count.optional(),
      findingsFollowingNewerRules: Count.optional(),
    })
    .optional(),
});
export type Entity = z.infer<typeof Entity>;

const TimelineEntry = z.object({
  position: Position,
  revision: Position,
  type: Text,
  occurredAt: Instant,
  actor: z.object({ id: Text, role: Text }),
  // The API token the command came with (review 188): an admin may issue a token under any subject, so the actor alone
  // does not tell who held it. None on events recorded before, nor on an engine's commands. `issuedWith` (review 196):
  // the token it was issued with, none for one made on the command line.
  token: z.object({ id: Text, issuedBy: Text, issuedWith: Text.optional() }).optional(),
  commandType: Text,
  causedBy: Cause.optional(),
  reason: Text.optional(),
  signature: z.object({ status: Text, keyFingerprint: Text.optional() }),
});
export type TimelineEntry = z.infer<typeof TimelineEntry>;

/** GET /v1/entities/{kind}/{id}/timeline?limit=&after=: one page, and the `after` of the next while more follow. */
export const Timeline = z.object({ entries: z.array(TimelineEntry).max(MAX_ROWS), nextAfter: Position.optional() });
export type Timeline = z.infer<typeof Timeline>;

/** GET /v1/entities/{kind}/{id}/state?at=: the state the time slider shows. */
export const StateAt = z.object({
  at: Text,
  state: Text,
  context: Context.optional(),
  asOf: z.object({ position: Position, revision: Position, type: Text, occurredAt: Instant.optional() }).optional(),
  events: Count,
});
export type StateAt = z.infer<typeof StateAt>;

/** GET /v1/entities/counts: one grouped read of the entities read model, as of `position`. */
export const EntityCounts = z.object({
  kinds: z.record(Text, z.object({ entities: Count, states: z.record(Text, Count) })),
  total: Count,
  position: Position.optional(),
  head: Position.optional(),
});
export type EntityCounts = z.infer<typeof EntityCounts>;

/**
 * GET /v1/replay?limit=0&full=true: every stored event replayed through its machine. `mode` and `verifiedNow` say how
 * much this request verified: `incremental` (only the events appended since the server's previous verdict) must not
 * read as a replay of the whole store (review 152). `findingsByNewerRules`: of the findings, those by a rule newer than
 * the stored event, as the server decides it (review 168: shown as broken histories, an operator could not tell them
 * from new ones). `findingsFollowingNewerRules`: those that only follow from such a finding (an event on a credential
 * the newer rule left unrecorded); 0 from a server before it counted them.
 */
export const FleetVerdict = z.object({
  ok: z.boolean(),
  events: Count,
  findingsTotal: Count,
  findingsByNewerRules: Count,
  findingsFollowingNewerRules: Count.default(0),
  mode: z.enum(['full', 'incremental']),
  verifiedNow: Count,
});
export type FleetVerdict = z.infer<typeof FleetVerdict>;

const ExpiringRow = z.object({
  position: Position,
  credentialId: Text,
  // `appId` of an AE-ID credential, `nodeId` of a CSE-ID one, when known (review 155): one AE-ID may serve two App-IDs.
  owner: z.object({ kind: Text, id: Text, appId: Text.optional(), nodeId: Text.optional() }),
  notAfter: Text,
  status: Text,
});
export type ExpiringRow = z.infer<typeof ExpiringRow>;
/** GET /v1/compliance/expiring. */
/** What a compliance answer says besides its rows: more matched than were sent, and how far the read models were behind. */
const AnswerBounds = {
  truncated: z.boolean(),
  eventsBehind: z.number().int().min(0),
  /** The server's count stopped at its limit (100,000): `eventsBehind` or more (review 428; absent from an older server). */
  eventsBehindAtLeast: z.boolean().optional(),
};
export const ExpiringRows = z.object({ rows: z.array(ExpiringRow).max(MAX_ROWS), ...AnswerBounds });
export type ExpiringRows = z.infer<typeof ExpiringRows>;

const RevocationRow = z.object({ position: Position, streamId: Text, kind: Text, id: Text, reason: Text, occurredAt: Text, actor: Text });
export type RevocationRow = z.infer<typeof RevocationRow>;
/** GET /v1/compliance/revocations. */
export const RevocationRows = z.object({ rows: z.array(RevocationRow).max(MAX_ROWS), ...AnswerBounds });
export type RevocationRows = z.infer<typeof RevocationRows>;

/** GET /v1/compliance: the query catalog. A name becomes a path segment of the query's request (path-names.ts). */
export const Catalog = z.object({
  queries: z.array(z.object({ name: QueryName, summary: Text, params: z.array(Text).max(64) })).max(256),
});
export type Catalog = z.infer<typeof Catalog>;

/**
 * Where a cut compliance answer goes on, as the server names it (`nextAfter`, and the CSV's credence-next-after
 * header): a global position, or for a query in an order of its own a key of that order, `<key>:<id>` (`expiring`'s
 * `<notAfterMs>:<credentialId>`, `dangling-associations`' `<position>:<associationId>`), whose id is held to the
 * domain's rule as the server's `after` holds it (projections/compliance/catalog.ts; credential and association ids
 * share it). Found in review: read as a position only, a cut `expiring` answer failed whole and its CSV lost the
 * cursor. Any other text is refused: it is shown to the user as the `after` to set, and becomes part of a file's name.
 */
const KEYSET_KEY = /^\d{1,19}:/;
/**
 * Since review 199 a cursor names the event its page ended at, as an event stream's id does: a position is
 * `<position>~<tag>`, a key `<key>:<id>@<position>~<tag>` (`@`, which no id holds, then the last row's event id); an
 * older server's has no tag. Since review 272 either ends in `.<q8>`, the digest of the query and parameters it was
 * given for (a position untagged too: `<position>.<q8>`). The console shows it and sends it back as it is.
 */
const ENDED_AT = /@(?:0|[1-9][0-9]{0,18})~[0-9a-f]{8}(?:\.[0-9a-f]{8})?$/;
const isComplianceCursor = (text: string): boolean => {
  const key = text.replace(ENDED_AT, '');
  return /^\d{1,20}(?:~[0-9a-f]{8})?(?:\.[0-9a-f]{8})?$/.test(text) || (KEYSET_KEY.test(key) && CredentialId.safeParse(key.slice(key.indexOf(':') + 1)).success);
};
export const ComplianceCursor = z
  .string()
  .max(19 + 1 + 128 + 1 + 19 + 1 + 8 + 1 + 8)
  .refine(
    isComplianceCursor,
    'must be a position (<position>~<tag>), or <key>:<id>@<position>~<tag> (expiring: <notAfterMs>:<credentialId>; dangling-associations: <position>:<associationId>; dangling-credentials: <position>:<credentialId>)',
  );

/** GET /v1/compliance/{query}: rows of any shape (shown as dotted columns), each naming its proving position. */
export const ComplianceResult = z.object({
  query: Text,
  params: z.record(Text, Text),
  /** Stored events the server's read models had not handled when it answered (absent from an older server). */
  eventsBehind: z.number().int().min(0).optional(),
  /** The server's count stopped at its limit (100,000): `eventsBehind` or more (review 416; absent from an older server). */
  eventsBehindAtLeast: z.boolean().optional(),
  rows: z.array(z.record(Text, z.unknown())).max(MAX_ROWS),
  /** More rows matched than the answer's limit, and where the next page starts (absent from an older server). */
  truncated: z.boolean().optional(),
  nextAfter: ComplianceCursor.optional(),
});
export type ComplianceResult = z.infer<typeof ComplianceResult>;

/** `raised`: the revocation's reason raised later (to keyCompromise), beside the first one (absent from an older server). */
const Ending = z.object({ type: Text, position: Position, reason: Text.optional(), raised: z.object({ reason: Text, position: Position }).optional(), causedBy: Cause.optional() });
export type Ending = z.infer<typeof Ending>;
const GraphMember = { streamId: Text, kind: Text, id: Text, state: Text.optional(), ending: Ending.optional() };
const Dependent = z.object({ ...GraphMember, parent: Text, relation: Text, aeId: Text.optional(), cascade: z.boolean() });
export type Dependent = z.infer<typeof Dependent>;
export type GraphMember = z.infer<z.ZodObject<typeof GraphMember>>;

/** GET /v1/entities/{kind}/{id}/dependents: the relations the revocation cascade follows, depth first. */
export const Dependents = z.object({
  root: z.object(GraphMember),
  dependents: z.array(Dependent).max(10_000),
  limit: Count,
  truncated: z.boolean(),
});

/**
 * GET /v1/transparency/evidence/{kind}/{id}: a JSON object here; the whole bundle is then parsed by the verifier
 * itself (domain/transparency `verifyEvidenceBundle`, with its size and depth limits), whose first check, "well-formed
 * bundle", the page shows with the field that failed: the same check a bundle from a file gets.
 */
export const EvidenceAnswer = z.record(z.string().max(64), z.unknown());

/**
 * An RFC 9457 problem (any refusal; adapters/http/problems.ts): a validation refusal names every field in `errors`.
 * Read leniently, since a proxy's error page may stand in for it, and what is too long is cut rather than refused:
 * a refusal with a long detail or many field issues still shows its fields.
 */
const MAX_PROBLEM_ERRORS = 1_000;
const CutText = z.string().transform((text) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text));

export const Problem = z.looseObject({
  type: Text.optional(),
  title: CutText.optional(),
  status: z.number().int().optional(),
  detail: CutText.optional(),
  code: Text.optional(),
  errors: z
    .array(z.object({ path: CutText, rule: Text.optional(), message: CutText }))
    .transform((errors) => errors.slice(0, MAX_PROBLEM_ERRORS))
    .optional(),
});
export type Problem = z.infer<typeof Problem>;

/**
 * One event of GET /v1/events, as the live feed shows it: a canonical lifecycle event (operators, auditors) or a
 * pseudonymised one (integrators), whichever fields it has.
 */
export const StreamEventData = z.object({
  streamId: Text.optional(),
  subject: z.union([Text, z.record(Text, z.unknown())]).optional(),
  occurredAt: Text.optional(),
  actorRole: Text.optional(),
  metadata: z.object({ occurredAt: Text.optional(), actor: z.object({ id: Text.optional(), role: Text.optional() }).optional() }).optional(),
});
export type StreamEventData = z.infer<typeof StreamEventData>;

/**
 * The `dropped` frame the server sends before it closes a stream (the server's DroppedFrame). `newer_event` names the
 * event a newer version of Credence wrote, which the server cannot read, says so in `message`, and asks for a long
 * `retryMs`. A field that fails its schema is left out rather than losing the reason with it.
 */
export const DroppedFrame = z.object({
  reason: Text.optional(),
  retryMs: z.number().int().nonnegative().optional().catch(undefined),
  position: Position.optional().catch(undefined),
  message: Text.optional().catch(undefined),
});
export type DroppedFrame = z.infer<typeof DroppedFrame>;

/** Where an answer fails its schema, for the page: `items.0.state: expected string`, at most a few. */
export const describeIssues = (error: z.ZodError, max = 3): string => {
  const shown = error.issues.slice(0, max).map((i) => `${i.path.length === 0 ? '(the answer)' : i.path.map(String).join('.')}: ${i.message}`);
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')}; and ${more} more` : shown.join('; ');
};
