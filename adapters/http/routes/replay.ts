import { z } from 'zod';
import { notFound } from '../../../domain/errors.ts';
import { EntityKind } from '../../../domain/streams.ts';
import { replayEntity, type FleetReplay } from '../../../projections/replay/index.ts';
import { FleetReplayer } from '../../replay-workers/fleet-replayer.ts';
import { ACCESS } from '../auth/roles.ts';
import type { App, Principal, ServiceContext } from '../context.ts';
import { QueryWholeNumberOr } from '../query-values.ts';
import { refuseLongEntity, replayWithinEntityRecordBound } from './entity-bound.ts';
import { refuseUnlessResolved } from './pseudonym-reads.ts';
import { countsTold, entityReplayTold, findingsTold, type ToldCounts } from './replay-findings-told.ts';
import { encodedAs, encodedInTurns, sendJsonOfInTurns, verdictInTurns } from './json-in-turns.ts';
import { DecimalString, Finding, getEntityRoute, toWire, Verdict } from './wire.ts';

const KindSummary = z.object({ entities: z.number().int(), events: z.number().int(), states: z.record(z.string(), z.number().int()) });
const FleetVerdict = z.object({
  ok: z.boolean().describe('true when every stored transition is legal'),
  events: z.number().int(),
  kinds: z.record(z.string(), KindSummary),
  foreignEvents: z.number().int(),
  findings: z.array(Finding).describe('the first `limit` findings, each with the earlier finding it follows from (projections/replay/finding-causes.ts)'),
  findingsTotal: z.number().int(),
  findingsByNewerRules: z
    .number()
    .int()
    .describe(
      'of `findingsTotal`, those refused by a rule newer than the stored event (an event an earlier version of the machines ' +
        'accepted, flagged since an upgrade; see docs/service.md, Upgrading) that follow from no earlier finding',
    ),
  findingsFollowingNewerRules: z
    .number()
    .int()
    .describe(
      'of `findingsTotal`, those that follow from a finding by a newer rule (`followsFrom`): judged against an entity that ' +
        'finding left unrecorded, so they neither prove nor clear their own events (an event forged after the upgrade on such ' +
        'an entity is counted here too; compare positions with the first verdict after the upgrade). The findings neither ' +
        'these nor `findingsByNewerRules` count are broken histories, and any finding keeps `ok` false',
    ),
  brokenStreams: z.array(z.string()).describe('the first `limit` broken streams'),
  brokenStreamsTotal: z.number().int(),
  mode: z.enum(['full', 'incremental']).describe('incremental: only the events appended since the previous verdict were verified now'),
  verifiedNow: z.number().int().describe('events verified by this request'),
});
const ReplayStep = z.object({
  position: DecimalString,
  revision: DecimalString,
  type: z.string(),
  occurredAt: z.string().optional(),
  actor: z.string().optional(),
  causationId: z.string().optional(),
  accepted: z.boolean(),
  state: z.string().describe('state after the event (unchanged when it was refused)'),
  reason: z.string().optional(),
  brokenFacts: z.array(z.string()).optional().describe('accepted on a fact whose own history is broken before it: which, and where (the fact\'s stream is the finding)'),
  data: z
    .record(z.string(), z.string())
    .optional()
    .describe('what an accepted event said, of `reason`, `predecessorId`, `successorId`, `overlapEndsAt`, `replaces`, `subscriptionId`'),
  raisedFrom: z.string().optional().describe('an accepted revocation of an entity revoked already that raised its reason: the reason before'),
});
const EntityReplayWire = z.object({ streamId: z.string(), kind: EntityKind, steps: z.array(ReplayStep), state: z.string(), verdict: Verdict });

/** Callers whose counts of one fleet verdict's findings are kept (the oldest asked dropped first). */
const COUNTS_KEPT_PER_VERDICT = 32;

/**
 * The replay verdicts: of the whole fleet (GET /v1/replay) and of one entity (GET /v1/replay/{kind}/{id}). Registered
 * by ./compliance.ts, right after its own routes, where they always were in the document's order.
 */
export const replayRoutes = (app: App, context: ServiceContext): void => {
  // One fleet replay at a time, shared by every caller asking while it runs; the next one goes on from the last.
  const replayer = new FleetReplayer(context.credence.store);
  // The counts of a verdict's findings as each caller is told them, kept with the verdict (the replayer gives the same
  // one again until an event is appended: a resolution that changes what a caller is told is one) for the last few
  // callers: counting walks every finding (review 420).
  const counts = new WeakMap<FleetReplay, Map<string, Promise<ToldCounts>>>();
  const countsFor = (replay: FleetReplay, principal: Principal | undefined): Promise<ToldCounts> => {
    let byCaller = counts.get(replay);
    if (byCaller === undefined) counts.set(replay, (byCaller = new Map()));
    const key = principal === undefined ? '' : `${principal.role}:${principal.subject}`;
    let answer = byCaller.get(key);
    if (answer === undefined) {
      if (byCaller.size >= COUNTS_KEPT_PER_VERDICT) byCaller.delete(byCaller.keys().next().value!);
      const held = byCaller;
      answer = countsTold(context, principal, replay.findings);
      held.set(key, answer);
      answer.catch(() => held.get(key) === answer && held.delete(key));
    }
    return answer;
  };

  app.get('/v1/replay', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Replay verdict of the whole fleet',
      description:
        'Every entity through its machine with every guard, in one pass over the store: counts per kind and state, and every stored ' +
        'transition its machine refuses. The service keeps the previous verdict\'s entities, so a later request verifies only the events ' +
        'appended since; `full=true` verifies the whole store again. One replay runs at a time, and callers asking meanwhile share it. ' +
        "A finding's link to another stream's (`followsFrom`), and the ids its reason quotes, where they tie a pseudonym to another " +
        'entity (SER-025), are told only to an auditor who recorded a resolution of that pseudonym; the counts are of the findings as told.',
      tags: ['replay'],
      querystring: z.strictObject({
        limit: QueryWholeNumberOr(0, 10_000, 100),
        full: z.enum(['true', 'false']).default('false').describe('verify every stored event again from position 0'),
      }),
      response: { 200: FleetVerdict },
    },
    handler: async (request) => {
      const { limit, full } = request.query;
      const { replay: result, mode, verifiedNow } = await replayer.verdict({ full: full === 'true' });
      // A finding following from another stream's links the two: a pseudonym's to its node (SER-025). The counts are
      // of the findings as told, or the count of those following a newer rule would say a link the findings do not.
      // Only the page is told; the counts are of every finding, kept per caller while the verdict stands.
      const findings = await findingsTold(context, request.principal, result.findings.slice(0, limit));
      const told = await countsFor(result, request.principal);
      return {
        mode,
        verifiedNow,
        ok: result.findings.length === 0,
        events: result.events,
        kinds: result.kinds,
        foreignEvents: result.foreignEvents,
        findings: toWire(findings),
        findingsTotal: result.findings.length,
        ...told,
        brokenStreams: result.brokenStreams.slice(0, limit),
        brokenStreamsTotal: result.brokenStreams.length,
      };
    },
  });

  getEntityRoute(
    app,
    '/v1/replay/:kind/:id',
    {
      summary: 'Replay verdict of one entity',
      description:
        "The entity's stored events through its machine with every guard (other entities as they stood at each event): the state after each, and any it refuses. " +
        "A pseudonym's is refused (403) but to an auditor who recorded a resolution of it. " +
        `An entity of more than ${context.limits.maxEntityEvents} events is refused (422 \`entity_too_long\`): GET /v1/replay judges it with the fleet.`,
      tags: ['replay'],
      response: EntityReplayWire,
    },
    async ({ streamId, kind }, _query, reply) => {
      // A pseudonym's steps' causes and facts name the node behind it (SER-025): refused before any replay work.
      await refuseUnlessResolved(context, reply.request.principal, streamId);
      // Every step of the whole stream in one answer: refused before the replay for a stream too long for one request.
      const instead = 'GET /v1/replay gives the verdict on it with the fleet, and GET /v1/entities/{kind}/{id}/timeline?limit= reads its history in pages';
      await refuseLongEntity(context, streamId, instead);
      // The fact streams its events read count too (review 420: a credential's two steps read its node's 200,000 records).
      const result = await replayWithinEntityRecordBound(context, instead, (maxRecords) => replayEntity(context.credence.store, streamId, undefined, { maxRecords }));
      if (result.steps.length === 0) throw notFound(streamId, kind);
      const told = await entityReplayTold(context, reply.request.principal, result);
      // Converted, encoded and written in turns, past the route's serializer, in the bytes it gave (its key order: the
      // long arrays put back in their places): at the entity bound (10,000 steps, as many findings) toWire and the
      // schema's encoding and writing of the whole were one block of 160 ms.
      const answer = {
        ...encodedAs(reply, EntityReplayWire, toWire({ ...told, steps: [], verdict: { ok: true } })),
        steps: await encodedInTurns(reply, ReplayStep, told.steps, toWire),
        verdict: await verdictInTurns(reply, told.verdict, toWire),
      };
      return sendJsonOfInTurns(reply, answer as z.infer<typeof EntityReplayWire>);
    },
  );
};
