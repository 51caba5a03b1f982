import { z } from 'zod';
import { PositionString, ResumePointString } from '../../domain/positions.ts';
import { ConsistencyProofJson } from '../../domain/transparency/index.ts';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS } from '../../domain/json-limits.ts';
import { FINDING_REASON_MAX } from '../../projections/replay/finding-reason.ts';

/**
 * What the read routes of API v1 answer, as this client reads them: parsed at the boundary and bounded (SER-001),
 * so a server of another version, or something that is not a Credence server, is an `UnexpectedResponse` naming
 * the field, never a crash further in. Loose objects: a newer server may add fields. Positions and revisions are
 * decimal strings (domain/positions.ts), as every route sends them.
 */

/** Far above what a real answer holds; only there so a hostile one cannot grow without limit. */
const MAX_ITEMS = 100_000;
const Name = z.string().max(300);
const Text = z.string().max(4_000);
/** A C2SP signed note: a few lines and at most 100 signatures. */
const Note = z.string().min(1).max(65_536);
const Count = z.number().int().nonnegative();
/** Text cut rather than refused: a refusal whose detail is long still says why. */
const CutText = (max: number) => z.string().transform((text) => (text.length > max ? `${text.slice(0, max)}…` : text));
/**
 * A replay finding's reason, a step's, or a broken fact a step read: the server bounds each at FINDING_REASON_MAX
 * (a broken fact: a stream, a position and a refusal within it); twice that is read, and past it cut rather than the
 * verdict lost. Review 259: a server before that bound sent 6,909 characters, and `credence state` and `history
 * --server` failed on the entity docs/service.md tells operators to inspect.
 */
const Reason = CutText(2 * FINDING_REASON_MAX);

const Finding = z.looseObject({ streamId: Name, position: PositionString, revision: PositionString, reason: Reason });
const Verdict = z.union([z.looseObject({ ok: z.literal(true) }), z.looseObject({ ok: z.literal(false), findings: z.array(Finding).max(MAX_ITEMS) })]);

/** GET /v1/replay: every entity through its machine; the first findings and broken streams, with their totals. */
export const FleetReplayJson = z.looseObject({
  ok: z.boolean(),
  events: Count,
  kinds: z.record(Name, z.looseObject({ entities: Count, events: Count, states: z.record(Name, Count) })),
  foreignEvents: Count,
  findings: z.array(Finding).max(MAX_ITEMS),
  findingsTotal: Count,
  brokenStreams: z.array(Name).max(MAX_ITEMS),
  brokenStreamsTotal: Count,
  // Of the findings, those by a rule newer than the stored event and those that follow from one (docs/service.md,
  // Upgrading): absent from a server before them, and left out rather than the verdict lost when not a count.
  findingsByNewerRules: Count.optional().catch(undefined),
  findingsFollowingNewerRules: Count.optional().catch(undefined),
  // How the verdict was reached: absent from a server before them, which verified the whole log for every request.
  mode: z.enum(['full', 'incremental']).optional(),
  verifiedNow: Count.optional(),
});
export type FleetReplayJson = z.infer<typeof FleetReplayJson>;

/** GET /v1/replay/{kind}/{id}: one entity's events through its machine, the state after each. */
export const EntityReplayJson = z.looseObject({
  streamId: Name,
  state: Name,
  steps: z
    .array(
      z.looseObject({
        position: PositionString,
        revision: PositionString,
        type: Name,
        occurredAt: Name.optional(),
        actor: Name.optional(),
        accepted: z.boolean(),
        state: Name,
        reason: Reason.optional(),
        brokenFacts: z.array(Reason).max(MAX_ITEMS).optional(),
      }),
    )
    .max(MAX_ITEMS),
  verdict: Verdict,
});
export type EntityReplayJson = z.infer<typeof EntityReplayJson>;

const EventRef = z.looseObject({ position: PositionString, revision: PositionString, type: Name, occurredAt: Name.optional() });

/** A time of a machine's context: epoch ms (machines/contexts.ts), within what a Date holds (ECMA-262, ±8.64e15). */
const EpochMs = z.number().min(-8.64e15).max(8.64e15);

/** GET /v1/entities/{kind}/{id}/state?at=: the entity as it stood at an instant. */
export const StateAtJson = z.looseObject({
  streamId: Name,
  at: Name,
  state: Name,
  asOf: EventRef.optional(),
  // Read and printed by `credence state` (bin/commands/state.ts): parsed here like the rest, not taken as sent.
  lastStored: EventRef.optional(),
  brokenFacts: z.array(Reason).max(MAX_ITEMS).optional(),
  verdict: Verdict,
  // The deadlines `credence state` reads of it and prints as dates (review 398: one past a Date's range printed the
  // state, then failed with an untyped "Invalid time value"); the rest of the context is shown as sent, with --json.
  context: z.looseObject({ notAfter: EpochMs.optional(), overlapEndsAt: EpochMs.optional() }).optional(),
});
export type StateAtJson = z.infer<typeof StateAtJson>;

/** GET /v1/entities/{kind}/{id}: its current state. */
export const EntityJson = z.looseObject({ streamId: Name, kind: Name, id: Name, state: Name, revision: PositionString, position: PositionString });
export type EntityJson = z.infer<typeof EntityJson>;

/** GET /v1/entities: one page of entities. */
export const EntityPageJson = z.looseObject({
  items: z.array(z.looseObject({ streamId: Name, kind: Name, id: Name, state: Name, position: PositionString })).max(MAX_ITEMS),
  nextCursor: Text.optional(),
});
export type EntityPageJson = z.infer<typeof EntityPageJson>;

/** GET /v1/entities/{kind}/{id}/timeline: each event, who did it and why. */
export const TimelineJson = z.looseObject({
  streamId: Name,
  entries: z
    .array(z.looseObject({ position: PositionString, type: Name, occurredAt: Name, actor: z.looseObject({ id: Name, role: Name }), reason: Text.optional() }))
    .max(MAX_ITEMS),
});
export type TimelineJson = z.infer<typeof TimelineJson>;

/**
 * The next page of a query in an order of its own (review 142): the last row's `<key>:<id>`, not a position;
 * `expiring`'s `<notAfterMs>:<credentialId>`, `dangling-associations`' `<position>:<associationId>`, `dangling-credentials`' `<position>:<credentialId>`; since review 199
 * followed by `@` and the id of the last row's event (`<position>~<tag>`), which ties the cursor to its log; since
 * review 272 by `.<q8>`, the digest of the query and parameters it was given for.
 */
export const KEYSET_CURSOR = /^\d{1,19}:[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}(?:@(?:0|[1-9][0-9]{0,18})~[0-9a-f]{8}(?:\.[0-9a-f]{8})?)?$/;
/**
 * The next page of a query in log order: a position, tagged with its event (review 199), then since review 272
 * `.<q8>`, the digest of the query and parameters it was given for (untagged where no event could tag it).
 */
export const POSITION_CURSOR = /^(?:0|[1-9][0-9]{0,18})(?:~[0-9a-f]{8})?(?:\.[0-9a-f]{8})?$/;
const PositionCursor = z.string().regex(POSITION_CURSOR, 'a cursor, <position>~<tag>.<q8>');
const KeysetCursor = z.string().regex(KEYSET_CURSOR, 'a cursor, <key>:<id> (expiring: <notAfterMs>:<credentialId>; dangling-associations: <position>:<associationId>; dangling-credentials: <position>:<credentialId>)');

/** GET /v1/compliance/{query}: rows, each naming the global position that proves it. */
export const ComplianceAnswerJson = z.looseObject({
  query: Name,
  params: z.record(Name, Text),
  /** Stored events the server's read models had not handled when it answered (older servers: absent). */
  eventsBehind: z.number().int().min(0).optional(),
  /** `eventsBehind`'s count stopped at the server's limit (100,000): at least that many (review 413; older servers: absent). */
  eventsBehindAtLeast: z.literal(true).optional(),
  rows: z.array(z.looseObject({ position: PositionString })).max(MAX_ITEMS),
  /** More rows matched than the answer's limit (older servers: absent). */
  truncated: z.boolean().optional(),
  /**
   * With `truncated`, for a query in log order (a position, tagged with its event since review 199 as an event stream's
   * id is) or in an order of its own (its cursor): the `after` of the next page, passed back as it is.
   */
  nextAfter: z.union([ResumePointString, PositionCursor, KeysetCursor]).optional(),
});
export type ComplianceAnswerJson = z.infer<typeof ComplianceAnswerJson>;

/** The same rows as CSV (`Accept: text/csv`): text. */
export const CsvText = z.string().max(64 * 1024 * 1024);

/**
 * A count that stopped at its limit (the server's, 100,000): `eventsBehind` is then the least the lag is (review 398;
 * absent from a server before it, which answered such a count as exact).
 */
const AtLeast = z.literal(true).optional();

/** GET /v1/projections: every live component's checkpoint and lag, and the largest lag. */
export const ProjectionStatusJson = z.looseObject({
  components: z
    .array(
      z.looseObject({
        name: Name,
        checkpoint: PositionString.optional(),
        head: PositionString.optional(),
        eventsBehind: Count,
        eventsBehindAtLeast: AtLeast,
        secondsBehind: z.number().nonnegative(),
        error: Text.optional(),
      }),
    )
    .max(1_000),
  lag: z.looseObject({ eventsBehind: Count, eventsBehindAtLeast: AtLeast, secondsBehind: z.number().nonnegative() }),
  // The cascade's dead letters, the first 100 and their count (review 139); absent from a server before them.
  cascadeDeadLetters: z
    .array(
      z.looseObject({
        stream: Name,
        command: Name,
        target: Name,
        eventType: Name,
        position: PositionString,
        occurredAt: Name,
        reason: Text,
      }),
    )
    .max(1_000)
    .optional(),
  cascadeDeadLettersTotal: Count.optional(),
  // The expiry scheduler's, the first 100 and their count; absent from a server before them.
  expiryDeadLetters: z
    .array(z.looseObject({ stream: Name, purpose: Name, command: Name, due: Name, code: Name, reason: Text }))
    .max(1_000)
    .optional(),
  expiryDeadLettersTotal: Count.optional(),
});
export type ProjectionStatusJson = z.infer<typeof ProjectionStatusJson>;

/** GET /v1/transparency/checkpoint: the latest signed checkpoint note (text). */
export const CheckpointNote = Note;

/** GET /v1/transparency/proofs/consistency: the proof and the signed notes of both tree sizes (`from` absent when the log signed none of its size). */
export const ConsistencyAnswerJson = z.looseObject({ proof: ConsistencyProofJson, from: Note.optional(), to: Note });
export type ConsistencyAnswerJson = z.infer<typeof ConsistencyAnswerJson>;

/** A problem's standard members (RFC 9457 3.1, and the server's `errors`); every other member is an extension. */
const PROBLEM_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance', 'errors']);
/** Field issues of a validation refusal kept: far more than a person reads, bounded however many the server sent. */
const MAX_PROBLEM_ERRORS = 1_000;
/**
 * A refusal's RFC 9457 problem document (adapters/http/problems.ts), as this client reads it. Extension members (the
 * current state, what it allows, a limit...) are kept only as JSON within MESSAGE_JSON_LIMITS: found in review, a
 * member nested some thousands of levels deep made the CLI's JSON.stringify overflow the stack, and the refusal was
 * lost ("Maximum call stack size exceeded"). `errors` has its own bounded shape (members of each issue besides
 * path, rule and message are dropped). A standard member of another type is left out rather than losing the
 * refusal; without a title, or with extensions past the limits, the document does not parse (http.ts `problemOf`
 * then makes one of the status).
 */
export const ProblemJson = z
  .looseObject({
    type: CutText(2_048).optional().catch(undefined),
    title: CutText(300),
    status: z.number().int().min(100).max(599).optional().catch(undefined),
    detail: CutText(4_000).optional().catch(undefined),
    instance: CutText(2_048).optional().catch(undefined),
    errors: z
      .array(z.object({ path: CutText(300).optional(), rule: CutText(100).optional(), message: CutText(1_000).optional() }))
      .transform((errors) => errors.slice(0, MAX_PROBLEM_ERRORS))
      .optional()
      .catch(undefined),
  })
  .superRefine((document, ctx) => {
    const extensions = Object.fromEntries(Object.entries(document).filter(([key]) => !PROBLEM_MEMBERS.has(key)));
    const issue = jsonLimitIssue(extensions, MESSAGE_JSON_LIMITS);
    if (issue !== undefined) ctx.addIssue({ code: 'custom', path: issue.path === '' ? [] : issue.path.split('.'), message: `${issue.message} (${issue.rule})` });
  });
export type ProblemJson = z.infer<typeof ProblemJson>;
