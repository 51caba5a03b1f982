import { z } from 'zod';
import { CommandMetadata } from '../../../domain/commands/index.ts';
import { Pseudonym } from '../../../domain/events/pseudonym.ts';
import { NodeId } from '../../../domain/ids.ts';
import type { RecordedEvent } from '../../../domain/ports/index.ts';
import { streamIdOf } from '../../../domain/streams.ts';
import { resolvePseudonym } from '../../../projections/pseudonyms/index.ts';
import { tokenChecked } from '../auth/access-hook.ts';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule, ServiceContext } from '../context.ts';
import { HttpProblem } from '../problems.ts';
import { actorOf } from './commands.ts';

const RotationBody = z.strictObject({
  nodeId: NodeId,
  commandId: CommandMetadata.shape.commandId.optional().describe('idempotency key (UUID); the same id again answers the first rotation'),
});

const RotationAnswer = z
  .object({
    nodeId: z.string(),
    epoch: z.int().nonnegative().describe('the epoch the node is in now'),
    deduplicated: z.boolean().describe('true when `commandId` had been seen: nothing was appended'),
  })
  .meta({ id: 'PseudonymRotation' });

const ResolutionBody = z.strictObject({
  pseudonym: Pseudonym,
  reason: z.string().min(1).max(500).describe('why the identity is needed (a case reference): recorded with the resolution'),
  commandId: CommandMetadata.shape.commandId.optional().describe('idempotency key (UUID); the same id again answers the first resolution'),
});

const ResolutionAnswer = z
  .object({
    pseudonym: z.string(),
    nodeId: z.string().describe('the node behind the pseudonym'),
    epoch: z.int().nonnegative().describe('the epoch the node carried it in'),
    position: z.string().regex(/^\d+$/).optional().describe('global position of the PseudonymResolved event that records this resolution'),
  })
  .meta({ id: 'PseudonymResolution' });

/** How many resolutions of its pseudonym `events` (one pseudonym's stream) record by `auditor`. */
const resolutionsBy = (events: readonly RecordedEvent[], auditor: string): number =>
  events.filter((event) => {
    const actor = event.metadata['actor'] as { id?: unknown; role?: unknown } | undefined;
    return event.type === 'PseudonymResolved' && actor?.id === auditor && actor.role === 'auditor';
  }).length;

/**
 * The bound on resolutions of one pseudonym by one auditor (SER-001). Each is a PseudonymResolved on the pseudonym's
 * stream, and every read of that pseudonym (its entity, its history, the read side's check that the caller resolved
 * it) reads the stream whole: found in review, an auditor appended some 20,000 within the rate limit in 3.5 minutes.
 * Protection, not lifecycle legality, so it is judged here and not in the machine. Counted on the stream itself,
 * not on the resolutions read model, which may lag behind a resolution just recorded; with the bound the stream holds
 * at most this many per auditor besides its rotation, and the engine reads it whole to decide the command anyway. A repeated `commandId` records nothing and is let through, so a
 * client retrying its last resolution still gets its answer. Checks and resolutions of one pseudonym by one auditor
 * run one at a time in this process, so concurrent requests cannot each see room for one more.
 */
const resolutionBound = (context: ServiceContext) => {
  const running = new Map<string, Promise<unknown>>();
  const serialised = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const previous = running.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(() => undefined, () => undefined);
    running.set(key, settled);
    void settled.then(() => {
      if (running.get(key) === settled) running.delete(key);
    });
    return next;
  };
  const refuseBeyondTheBound = async (pseudonym: string, auditor: string, commandId: string | undefined): Promise<void> => {
    const store = context.credence.store;
    const streamId = streamIdOf('pseudonym', pseudonym);
    if (commandId !== undefined && (await store.readCommand(streamId, commandId)).length > 0) return;
    const limit = context.limits.maxResolutionsPerPseudonym;
    if (resolutionsBy(await store.readStream(streamId), auditor) < limit) return;
    throw new HttpProblem(
      409,
      'resolution_limit',
      `${auditor} has recorded ${limit} resolutions of ${pseudonym}, the most one auditor may (limits.maxResolutionsPerPseudonym): ` +
        `its node is already yours to read (GET /v1/entities/pseudonym/${pseudonym}); nothing was recorded`,
      { limit },
    );
  };
  return <T>(pseudonym: string, auditor: string, commandId: string | undefined, resolve: () => Promise<T>): Promise<T> =>
    serialised(`${pseudonym}\u0000${auditor}`, async () => {
      await refuseBeyondTheBound(pseudonym, auditor, commandId);
      return resolve();
    });
};

/**
 * An operator's on-demand rotation (seed 004; SER-011, SER-025): the service derives the node's next pseudonym with
 * its pseudonym key and records it (`rotatePseudonym`, trigger `demand`, the operator as actor). The answer names the
 * epoch, not the pseudonym: who is behind a pseudonym is for an auditor's recorded resolution to say.
 */
export const pseudonymRoutes: RouteModule = (app, context) => {
  const withinResolutionBound = resolutionBound(context);

  app.post('/v1/pseudonyms/rotations', {
    config: { access: ACCESS.commands },
    schema: {
      summary: "Rotate a node's pseudonym now",
      description:
        "Derives the node's pseudonym of its next epoch with the service's pseudonym key and records the rotation (trigger `demand`). " +
        '201 when recorded; 200 when `commandId` had been seen; 409 when the node cannot rotate (unknown, or not live); 501 when the ' +
        'service has no pseudonym key. A `rotatePseudonym` sent to /v1/commands must carry the derived pseudonym, which only the service can compute.',
      tags: ['commands'],
      body: RotationBody,
      response: { 200: RotationAnswer, 201: RotationAnswer },
    },
    handler: async (request, reply) => {
      const pseudonyms = context.credence.pseudonyms;
      if (pseudonyms === undefined) throw new HttpProblem(501, 'pseudonyms_unavailable', 'this server has no pseudonym key, so it rotates no pseudonym');
      const { nodeId, commandId } = request.body;
      const outcome = await pseudonyms.rotateNow(nodeId, actorOf(request.principal!), commandId, tokenChecked(context.access, request.principal!));
      if (outcome.outcome === 'skipped') throw new HttpProblem(409, 'rotation_refused', `${nodeId} cannot rotate: ${outcome.reason}`);
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
        'Records the resolution (`resolvePseudonym`: a PseudonymResolved event naming the auditor and the reason), then answers the ' +
        'node behind the pseudonym and the epoch it carried it in. 404 for a pseudonym no rotation recorded; the same `commandId` ' +
        'again answers the first resolution and records nothing more. 409 `resolution_limit` (with `limit`) once the caller has ' +
        'recorded `limits.maxResolutionsPerPseudonym` resolutions of this pseudonym (default 100): nothing is recorded.',
      tags: ['commands'],
      body: ResolutionBody,
      response: { 200: ResolutionAnswer },
    },
    handler: async (request) => {
      const { pseudonym, reason, commandId } = request.body;
      const principal = request.principal!;
      const actor = actorOf(principal);
      const resolution = await withinResolutionBound(pseudonym, principal.subject, commandId, () =>
        resolvePseudonym(context.credence.engine, {
          pseudonym,
          reason,
          actor,
          ...(commandId !== undefined ? { commandId } : {}),
        }, tokenChecked(context.access, principal)));
      const { position, ...rest } = resolution;
      return { ...rest, ...(position !== undefined ? { position: position.toString(10) } : {}) };
    },
  });
};
