import { z } from 'zod';
import { CommandMetadata, ResolutionReason } from '../../../domain/commands/index.ts';
import { badSignature, isCredenceError, validationError } from '../../../domain/errors.ts';
import { Pseudonym } from '../../../domain/events/pseudonym.ts';
import { NodeId } from '../../../domain/ids.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { BrokenHistoryError } from '../../../machines/index.ts';
import { resolvePseudonym } from '../../../projections/pseudonyms/index.ts';
import { replayEntityToSnapshot } from '../../../projections/replay/entity.ts';
import type { EntityReplay } from '../../../projections/replay/index.ts';
import { tokenChecked } from '../auth/access-hook.ts';
import { ACCESS } from '../auth/roles.ts';
import type { Principal, RouteModule, ServiceContext } from '../context.ts';
import { HttpProblem, PROBLEM_CONTENT_TYPE, ProblemSchema } from '../problems.ts';
import { RETRY_AFTER } from '../response-headers.ts';
import { actorOf, metadataBodyPath } from './commands.ts';
import { hasResolved } from './pseudonym-reads.ts';
import { entityReplayTold } from './replay-findings-told.ts';
import { resolutionBound } from './resolution-bound.ts';

const RotationBody = z.strictObject({
  nodeId: NodeId,
  commandId: CommandMetadata.shape.commandId.optional().describe('idempotency key (UUID); the same id again answers the first rotation'),
  signature: CommandMetadata.shape.signature.describe(
    'request signature (SER-016) over the `rotatePseudonym` command as the operator asks for it: data { nodeId } (the pseudonym, ' +
      'epoch and trigger the service derives are not signed; rule `derived` checks them), actor { id: <token subject>, role: operator } ' +
      'and the commandId sent here (send the commandId you signed)',
  ),
});

const RotationAnswer = z
  .object({
    nodeId: z.string(),
    epoch: z.int().nonnegative().describe('the epoch this rotation moved the node to (with deduplicated: true, the one it recorded then, older if the node rotated since)'),
    deduplicated: z.boolean().describe('true when `commandId` had been seen: nothing was appended'),
  })
  .meta({ id: 'PseudonymRotation' });

const ResolutionBody = z.strictObject({
  pseudonym: Pseudonym,
  reason: ResolutionReason,
  commandId: CommandMetadata.shape.commandId.optional().describe('idempotency key (UUID); the same id again answers the first resolution'),
  signature: CommandMetadata.shape.signature.describe(
    'request signature (SER-016) over the `resolvePseudonym` command as the engine sees it, as POST /v1/commands takes one: data ' +
      '{ pseudonym, reason }, actor { id: <token subject>, role: auditor } and the commandId sent here (send the commandId you signed)',
  ),
});

const ResolutionAnswer = z
  .object({
    pseudonym: z.string(),
    nodeId: z.string().describe('the node behind the pseudonym'),
    epoch: z.int().nonnegative().describe('the epoch the node carried it in'),
    position: z.string().regex(/^\d+$/).optional().describe('global position of the PseudonymResolved event that records this resolution'),
  })
  .meta({ id: 'PseudonymResolution' });

/**
 * Retry-After of a rotation that found its node's next epochs taken by rotations the directory does not show yet: the
 * live runtime takes them in within moments, and a rotation sent again starts past what this process stored.
 */
const ROTATION_BUSY_RETRY_AFTER_SECONDS = 1;

const problemAnswer = (description: string, headers?: typeof RETRY_AFTER) => ({
  description,
  ...(headers !== undefined ? { headers } : {}),
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

/**
 * An operator's on-demand rotation (seed 004; SER-011, SER-025): the service derives the node's next pseudonym with
 * its pseudonym key and records it (`rotatePseudonym`, trigger `demand`, the operator as actor). The answer names the
 * epoch, not the pseudonym: who is behind a pseudonym is for an auditor's recorded resolution to say.
 */

/**
 * An id used for another command (another node's rotation, an operator's command), or one of the ids only the engine's
 * own reactions carry, is refused naming the body's field, as POST /v1/commands names it: the client sent `commandId`,
 * not the command's metadata (review 112: the resolutions named `metadata.commandId`).
 */
const namingBodyFields = (error: unknown): never => {
  if (!isCredenceError(error, 'validation') || error.problem.code !== 'validation') throw error;
  const issues = error.problem.issues.map((i) => ({ ...i, path: metadataBodyPath(i.path) ?? i.path }));
  throw validationError(issues, 'command');
};

/** What a route's command is signed over, and the CLI command that signs it. */
interface HowToSign {
  readonly type: 'rotatePseudonym' | 'resolvePseudonym';
  readonly data: string;
  readonly role: 'operator' | 'auditor';
  readonly cli: string;
}

/**
 * An unsigned rotation or resolution a signing policy requires signed (review 158: the refusal named the signer and
 * nothing else, and neither route took a signature then): the same 422, saying what to sign and how to send it.
 */
const sayingHowToSign = (how: HowToSign) => (error: unknown): never => {
  if (!isCredenceError(error) || error.problem.code !== 'bad_signature') throw error;
  throw badSignature(
    `${error.problem.reason}: sign the ${how.type} command (data ${how.data}, actor { id: <token subject>, role: ${how.role} }, ` +
      `the commandId you send) and send it as \`signature\` with that \`commandId\`; from the CLI: ${how.cli} --sign-key FILE --audience NAME`,
  );
};

/** The pseudonym and epoch are the service's to derive: the operator signs the node it asks for (domain/signing/payload.ts). */
const ROTATION_SIGNING: HowToSign = {
  type: 'rotatePseudonym',
  data: '{ nodeId }, not the pseudonym, epoch or trigger the service derives',
  role: 'operator',
  cli: 'credence pseudonym rotate <nodeId>',
};
const RESOLUTION_SIGNING: HowToSign = {
  type: 'resolvePseudonym',
  data: '{ pseudonym, reason }',
  role: 'auditor',
  cli: 'credence pseudonym resolve <pseudonym> --reason TEXT',
};

/** The first refusal of a pseudonym's replay, told to `principal` as GET /v1/entities/pseudonym/{id} tells it. */
interface BrokenTold {
  readonly position?: string;
  readonly reason: string;
  /** The refused event's type (`eventType`: a problem's `type` is its own URI). */
  readonly eventType?: string;
  readonly rule?: string;
}

/**
 * `replay`'s first finding in `principal`'s words (entityReplayTold): its reason without the ids that name the node,
 * and its position (which places the pseudonym beside its node's events) only to an auditor who resolved it.
 */
const brokenTold = async (context: ServiceContext, principal: Principal, replay: EntityReplay): Promise<BrokenTold | undefined> => {
  if (replay.verdict.ok) return undefined;
  const told = await entityReplayTold(context, principal, { ...replay, steps: [], verdict: { ok: false, findings: replay.verdict.findings.slice(0, 1) } });
  const first = told.verdict.ok ? undefined : told.verdict.findings[0];
  if (first === undefined) return undefined;
  const placed = await hasResolved(context, principal, replay.streamId);
  return { ...(placed ? { position: first.position.toString(10) } : {}), reason: first.reason, eventType: first.type, ...(first.rule !== undefined ? { rule: first.rule } : {}) };
};

/**
 * A resolution of a pseudonym whose stored history its replay refuses, and that cannot be recorded or answered (it was
 * a 500 naming, in its reason, the node an auditor had not resolved): 409 `broken_history`, the pseudonym, where (to
 * an auditor who resolved it) and why, and what to do. Nothing is recorded.
 */
const brokenResolution = (pseudonym: string, streamId: string, why: string, broken: BrokenTold | undefined): HttpProblem =>
  new HttpProblem(
    409,
    'broken_history',
    `${pseudonym} cannot be resolved: ${why}` +
      (broken === undefined ? '' : ` (${broken.position !== undefined ? `position ${broken.position}: ` : ''}${broken.reason})`) +
      '; nothing was recorded. The event was written around the engine: ' +
      'an operator finds it with `credence replay` on the service host and repairs the store (a backup from before it); ' +
      'then resolve it again',
    { pseudonym, streamId, ...(broken !== undefined ? { ...broken } : {}) },
  );

export const pseudonymRoutes: RouteModule = (app, context) => {
  const withinResolutionBound = resolutionBound(context);

  app.post('/v1/pseudonyms/rotations', {
    config: { access: ACCESS.commands },
    schema: {
      summary: "Rotate a node's pseudonym now",
      description:
        "Derives the node's pseudonym of its next epoch with the service's pseudonym key and records the rotation (trigger `demand`). " +
        '201 when recorded; 200 when `commandId` had been seen; 409 when the node cannot rotate (unknown, or not live); 501 when the ' +
        'service has no pseudonym key; 503 `rotation_busy` (Retry-After) when the epochs after the node\'s latest are taken by rotations ' +
        'not yet in the pseudonym directory: nothing was recorded, send it again. Rotations of one node run one at a time. ' +
        'Under a signing policy that requires it, `signature` signs the `rotatePseudonym` command over the node (data { nodeId }; ' +
        'the pseudonym, epoch and trigger the service derives are checked by rule `derived`, not signed); 422 `bad_signature`, ' +
        'nothing recorded, without one.',
      tags: ['commands'],
      body: RotationBody,
      response: {
        200: RotationAnswer,
        201: RotationAnswer,
        503: problemAnswer(
          "not now: the node's next epochs taken by rotations not yet in the pseudonym directory (`rotation_busy`, nothing recorded), " +
            'or the service overloaded, starting, shutting down, not ready, or the event store busy or unreachable (Retry-After); a damaged ' +
            'database, or a command while the transparency log has stopped on a restored event store (no Retry-After)',
          RETRY_AFTER,
        ),
      },
    },
    handler: async (request, reply) => {
      const pseudonyms = context.credence.pseudonyms;
      if (pseudonyms === undefined) throw new HttpProblem(501, 'pseudonyms_unavailable', 'this server has no pseudonym key, so it rotates no pseudonym');
      const { nodeId, commandId, signature } = request.body;
      const rotated = pseudonyms
        .rotateNow(nodeId, actorOf(request.principal!), commandId, tokenChecked(context.access, request.principal!), signature)
        .catch(namingBodyFields);
      // Without a signature, the only signature refusal is the policy's requiring one.
      const outcome = await (signature === undefined ? rotated.catch(sayingHowToSign(ROTATION_SIGNING)) : rotated);
      if (outcome.outcome === 'skipped') throw new HttpProblem(409, 'rotation_refused', `${nodeId} cannot rotate: ${outcome.reason}`);
      if (outcome.outcome === 'busy') {
        throw new HttpProblem(503, 'rotation_busy', `${nodeId} was not rotated: ${outcome.reason}; send it again`, {}, {
          'retry-after': String(ROTATION_BUSY_RETRY_AFTER_SECONDS),
        });
      }
      return reply.code(outcome.outcome === 'rotated' ? 201 : 200).send({ nodeId, epoch: outcome.epoch, deduplicated: outcome.outcome === 'duplicate' });
    },
  });

  /*
   * An auditor's resolution (SER-025: only an authorised stakeholder may identify another): the `resolvePseudonym`
   * command, recorded as PseudonymResolved naming the auditor and the reason before the node is read and answered.
   */
  app.post('/v1/pseudonyms/resolutions', {
    config: { access: ACCESS.resolve },
    schema: {
      summary: 'Resolve a pseudonym to its node (auditor, recorded)',
      description:
        'Records the resolution (`resolvePseudonym`: a PseudonymResolved event naming the auditor, the token it came with and who ' +
        'issued it (`metadata.token`), and the reason), then answers the ' +
        'node behind the pseudonym and the epoch it carried it in. 404 for a pseudonym no rotation recorded; the same `commandId` ' +
        'again answers the first resolution and records nothing more. 409 `resolution_limit` (with `limit`) once the caller has ' +
        'recorded `limits.maxResolutionsPerPseudonym` resolutions of this pseudonym (default 100); 409 `pseudonym_too_long` (with ' +
        '`streamId`, `events`, `maxEvents`) once the pseudonym\'s stream holds `limits.maxEntityEvents` events, whoever resolved them ' +
        '(default 10,000): auditors who resolved it before still read its node. 409 `broken_history` (with `pseudonym`, `streamId`, ' +
        '`reason`, `eventType`, and `position` to an auditor who resolved it) when its stored history holds an event its own machine ' +
        'refuses, on which the engine records no command. Each of these records nothing. Under a signing policy ' +
        'that requires it, `signature` signs the command as on POST /v1/commands (422 `bad_signature`, nothing recorded, without one).',
      tags: ['commands'],
      body: ResolutionBody,
      response: { 200: ResolutionAnswer },
    },
    handler: async (request) => {
      const { pseudonym, reason, commandId, signature } = request.body;
      const principal = request.principal!;
      const actor = actorOf(principal);
      const streamId = streamIdOf('pseudonym', pseudonym);
      const resolution = await withinResolutionBound(pseudonym, principal.subject, commandId, () => {
        const resolved = resolvePseudonym(context.credence.engine, {
          pseudonym,
          reason,
          actor,
          ...(commandId !== undefined ? { commandId } : {}),
          ...(signature !== undefined ? { signature } : {}),
        }, tokenChecked(context.access, principal)).catch(namingBodyFields);
        // Without a signature, the only signature refusal is the policy's requiring one.
        return (signature === undefined ? resolved.catch(sayingHowToSign(RESOLUTION_SIGNING)) : resolved).catch(async (error: unknown) => {
          // The engine decides no command on a stream its own machine refuses: nothing recorded, nothing answered. The
          // stream is replayed here only then: a resolution reads none of it otherwise (its bound is counted from the
          // directory, test/a-pseudonym-stream-is-bounded-across-auditors.test.ts).
          if (!(error instanceof BrokenHistoryError)) throw error;
          // Another stream's break (none the resolution reads today) is not told: its id could name the node.
          if (error.streamId !== streamId) throw brokenResolution(pseudonym, streamId, 'a stored history the engine reads to decide it is broken', undefined);
          const { replay } = await replayEntityToSnapshot(context.credence.store, streamId);
          throw brokenResolution(pseudonym, streamId, 'its machine refuses an event of its stored history, and the engine records no command on such a stream', await brokenTold(context, principal, replay));
        });
      });
      const { position, ...rest } = resolution;
      return { ...rest, ...(position !== undefined ? { position: position.toString(10) } : {}) };
    },
  });
};
