import { z } from 'zod';
import { EntityKind, parseStreamId } from '../../../domain/streams.ts';
import { cascadeFrom, causeOf, dependentEnding, endingOf, walkDependents, type Ending as StoredEnding } from '../../../projections/cascade/index.ts';
import { countEntities, entityRow } from '../../../projections/entities/index.ts';
import { readCheckpoint } from '../../../projections/runtime/index.ts';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule, ServiceContext } from '../context.ts';
import { QueryWholeNumberOr } from '../query-values.ts';
import { refuseUnlessResolved } from './pseudonym-reads.ts';
import { DecimalString, getEntityRoute, mustExist, readYourWritesInto, withEventsBehind } from './wire.ts';

/**
 * The fleet at a glance and what depends on one entity, both from read models in one bounded query each: what the
 * console's overview and dependency graph read instead of replaying the store or listing every entity of a kind.
 */

const MAX_DEPENDENTS = 1_000;
const DEFAULT_DEPENDENTS = 200;

const KindCounts = z.object({
  entities: z.number().int().nonnegative().describe('entities of the kind in all'),
  states: z.record(z.string(), z.number().int().nonnegative()).describe('how many are in each state'),
});

const EntityCounts = z
  .object({
    kinds: z.record(z.string(), KindCounts).describe('by kind; a kind with no entity is absent'),
    total: z.number().int().nonnegative(),
    position: DecimalString.optional().describe('last global position the entities read model handled: the counts are as of it; absent before the first'),
    head: DecimalString.optional().describe("the store's head position when the counts were read"),
  })
  .meta({ id: 'EntityCounts' });

const Relation = z
  .enum([
    'credential-of-node',
    'credential-of-application',
    'association-of-credential',
    'association-of-node',
    'association-of-application',
    'node-of-subscription',
    'application-enrolled-with',
    'provisioned-on-bootstrap',
    'application-credential-signed-in-on',
  ])
  .describe(
    'how it depends on its parent: the relation the revocation cascade follows. application-enrolled-with: an App-ID enrolled ' +
      "with the credential (a leaf; its ending is the end of that enrolment, ApplicationEnrolmentEnded: the App-ID stays registered). " +
      'Followed on a keyCompromise only, and listed while the parent is not ended or was revoked keyCompromise (first or raised): ' +
      'provisioned-on-bootstrap, a credential remotely provisioned on its parent bootstrap credential; application-credential-signed-in-on, ' +
      "an App-ID's own credential an AE signed in with on its parent node (an association on it established with that credential)",
  );

const Ending = z
  .object({
    type: z.string().describe('the event that ended it, e.g. CredentialRevoked'),
    position: DecimalString,
    reason: z.string().optional().describe('the reason it ended with, which its dependents inherited; stays when raised'),
    raised: z
      .object({ reason: z.string(), position: DecimalString })
      .optional()
      .describe(
        "a revocation's reason raised later, by a second revocation of the credential (to keyCompromise, once), and that revocation's " +
          'position: what the entity, OCSP and the CRL say now. The cascade raises nothing: its dependents keep the first reason',
      ),
    causedBy: z
      .object({ streamId: z.string(), type: z.string(), position: DecimalString })
      .optional()
      .describe("the ending that caused it (a cascade's parent revocation); absent when it was ended directly"),
  })
  .meta({ id: 'Ending' });

const GraphMember = {
  streamId: z.string(),
  kind: EntityKind,
  id: z.string(),
  state: z.string().optional().describe('from the entities read model; absent only while that read model has not reached the entity yet'),
  ending: Ending.optional().describe('the event that ended it, as the cascade tracks endings: a revocation, a node enrolment or association expiry, a subscription end'),
};

const Dependent = z
  .object({
    ...GraphMember,
    parent: z.string().describe('stream of the entity it depends on (the root, or another dependent listed before it)'),
    relation: Relation,
    aeId: z.string().optional().describe('for an App-ID instance (association-of-application): the AE-ID'),
    cascade: z.boolean().describe("ended by the cascade that started at the root's own revocation or expiry"),
  })
  .meta({ id: 'Dependent' });

const Dependents = z.object({
  root: z.object(GraphMember),
  dependents: z.array(Dependent).describe('depth first, each entity once: a credential is followed by its associations'),
  limit: z.number().int(),
  truncated: z.boolean().describe('more dependents exist than `limit`: the list is cut'),
  position: DecimalString.optional().describe('last global position the cascade relations handled; absent before the first'),
});

type EndingWire = z.infer<typeof Ending>;

const endingWire = (context: ServiceContext, ending: StoredEnding | undefined): { ending?: EndingWire } => {
  if (ending === undefined) return {};
  const cause = causeOf(context.credence.readModels, ending);
  return {
    ending: {
      type: ending.type,
      position: ending.position.toString(10),
      ...(ending.reason !== undefined ? { reason: ending.reason } : {}),
      ...(ending.raised !== undefined ? { raised: { reason: ending.raised.reason, position: ending.raised.position.toString(10) } } : {}),
      ...(cause !== undefined ? { causedBy: { streamId: cause.streamId, type: cause.type, position: cause.position.toString(10) } } : {}),
    },
  };
};

const member = (context: ServiceContext, streamId: string) => {
  const ref = parseStreamId(streamId);
  // The cascade only relates streams of entities (domain/streams.ts); anything else is a corrupt read model.
  if (ref === undefined) throw new Error(`cascade relations name ${streamId}, which is no entity stream; rebuild the cascade projection`);
  const state = entityRow(context.credence.readModels, streamId)?.state;
  return { streamId, kind: ref.kind, id: ref.id, ...(state !== undefined ? { state } : {}) };
};

const checkpointOf = (context: ServiceContext, name: string): { position?: string } => {
  const checkpoint = readCheckpoint(context.credence.readModels, name);
  return checkpoint === undefined ? {} : { position: checkpoint.position.toString(10) };
};

export const entityGraphRoutes: RouteModule = (app, context) => {
  app.get('/v1/entities/counts', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Count entities by kind and state',
      description:
        'One grouped read of the entities read model (not a replay of the store): how many entities of each kind are in each state, ' +
        'as of `position`. Read-your-writes: it first waits (at most a second) for the read model to reach the head.',
      tags: ['entities'],
      querystring: z.strictObject({}),
      response: { 200: withEventsBehind(EntityCounts) },
    },
    handler: async (_request, reply) => {
      await readYourWritesInto(context, reply, ['entities']);
      const kinds: Record<string, { entities: number; states: Record<string, number> }> = {};
      let total = 0;
      for (const { kind, state, count } of countEntities(context.credence.readModels)) {
        const k = (kinds[kind] ??= { entities: 0, states: {} });
        k.entities += count;
        k.states[state] = count;
        total += count;
      }
      // Read with the counts, before anything is awaited: a catch-up running meanwhile would move the checkpoint
      // past what was counted (found in review: one node counted "as of" a position that held two).
      const asOf = checkpointOf(context, 'entities');
      const head = await context.credence.store.headPosition();
      return { kinds, total, ...asOf, ...(head !== undefined ? { head: head.toString(10) } : {}) };
    },
  });

  getEntityRoute(
    app,
    '/v1/entities/:kind/:id/dependents',
    {
      summary: 'What depends on an entity',
      description:
        "The relations the revocation cascade follows (seed 003 11.2.2): a node's credentials and their associations, an App-ID's " +
        "credentials and instances, a credential's associations and the App-IDs enrolled with it, a subscription's enrolled nodes; " +
        "then what a keyCompromise would take beside them: a bootstrap credential's remotely provisioned credentials, the App-ID " +
        'credentials AEs signed in with on a node. ' +
        'Each with its state, how it ended and ' +
        `whether the root's revocation cascaded to it. At most \`limit\` dependents (default ${DEFAULT_DEPENDENTS}, at most ` +
        `${MAX_DEPENDENTS}); \`truncated\` says when more exist. A pseudonym's is refused (403) but to an auditor who recorded a ` +
        'resolution of it, the same whether it exists or not.',
      tags: ['entities'],
      querystring: z.strictObject({ limit: QueryWholeNumberOr(1, MAX_DEPENDENTS, DEFAULT_DEPENDENTS) }),
      response: Dependents,
      eventsBehind: true,
    },
    async ({ streamId, kind }, { limit }, reply) => {
      // A pseudonym's (it has no dependents): that it exists is for an auditor who resolved it to learn (review 409).
      await refuseUnlessResolved(context, reply.request.principal, streamId);
      await mustExist(context, streamId, kind);
      await readYourWritesInto(context, reply, ['cascade', 'entities']);
      const db = context.credence.readModels;
      const walk = walkDependents(db, streamId, limit);
      const cascade = cascadeFrom(db, streamId, walk.dependents);
      const dependents = walk.dependents.map((d) => ({
        ...member(context, d.streamId),
        ...endingWire(context, dependentEnding(db, d)),
        parent: d.parent,
        relation: d.relation,
        ...(d.aeId !== undefined ? { aeId: d.aeId } : {}),
        cascade: cascade.get(d.streamId) === true,
      }));
      return {
        root: { ...member(context, streamId), ...endingWire(context, endingOf(db, streamId)) },
        dependents,
        limit,
        truncated: walk.truncated,
        ...checkpointOf(context, 'cascade'),
      };
    },
  );
};
