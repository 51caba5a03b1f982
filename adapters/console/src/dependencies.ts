import { z } from 'zod';
import { entityPath, parseAnswer, type Api } from './api.ts';
import { EntityId } from './path-names.ts';
import { Dependents, Entity, type Dependent, type Ending, type GraphMember } from './schemas.ts';

/**
 * What depends on an entity (node -> credentials -> associations; App-ID -> instances and credential; credential ->
 * associations and the App-IDs enrolled with it; subscription
 * -> enrolled nodes; and what a keyCompromise takes beside them: bootstrap credential -> credentials provisioned on
 * it, node -> App-ID credentials signed in on it), in one request: GET /v1/entities/{kind}/{id}/dependents reads the relations the revocation
 * cascade itself follows, each dependent with its state and how it ended (whose `causedBy` shows a cascade). The
 * server bounds the answer (MAX_DEPENDENTS) and says when it cut it.
 */

/** The server's largest `limit` for dependents (adapters/http/routes/entity-graph.ts). */
export const MAX_DEPENDENTS = 1_000;

export interface EntityRef {
  readonly kind: string;
  readonly id: string;
  readonly state: string;
  readonly context: Readonly<Record<string, unknown>>;
}

/** How a dependent ended (revoked, expired), and the ending that caused it in a cascade. */
export type Revocation = Ending;

export interface GraphEntity {
  readonly kind: string;
  readonly id: string;
  /** Absent only while the entities read model has not reached the entity yet. */
  readonly state?: string;
}

export interface GraphNode {
  readonly entity: GraphEntity;
  readonly relation: string;
  /** How it was revoked or expired. */
  readonly revocation?: Revocation;
  /** Ended by the cascade that started at the graph's root. */
  readonly cascade?: boolean;
  readonly children: readonly GraphNode[];
}

export interface DependencyGraph {
  readonly root: GraphNode;
  /** More dependents exist than the server returned (`limit`): the graph misses some. */
  readonly truncated: boolean;
  readonly limit: number;
  /** Events the read models had not handled when the dependents were read (0: none). */
  readonly eventsBehind: number;
  /** The server's count stopped at its limit: `eventsBehind` or more (review 428). */
  readonly eventsBehindAtLeast: boolean;
}

type Member = GraphMember;

const ROOT_LABEL: Readonly<Record<string, string>> = {
  node: 'node',
  credential: 'credential',
  application: 'App-ID',
  association: 'security association',
  subscription: 'M2M Service Subscription',
};

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const labelOf = (d: Dependent, root: EntityRef): string => {
  switch (d.relation) {
    case 'credential-of-node':
      return root.kind === 'node' && d.id === str(root.context['bootstrapCredentialId']) ? 'bootstrap credential' : 'credential';
    case 'credential-of-application':
      return 'credential';
    case 'association-of-application':
      return `instance ${d.aeId ?? ''}`.trim();
    case 'node-of-subscription':
      return 'enrolled node';
    case 'application-enrolled-with':
      return 'enrolled App-ID';
    // Followed on a keyCompromise only (the server lists them while that applies): named so, not as a holder's.
    case 'provisioned-on-bootstrap':
      return 'credential provisioned on it, follows its keyCompromise';
    case 'application-credential-signed-in-on':
      return 'App-ID credential signed in on it, follows its keyCompromise';
    default:
      return 'security association';
  }
};

const graphNode = (m: Member, relation: string, children: readonly GraphNode[], cascade?: boolean): GraphNode => ({
  entity: { kind: m.kind, id: m.id, ...(m.state !== undefined ? { state: m.state } : {}) },
  relation,
  children,
  ...(m.ending !== undefined ? { revocation: m.ending } : {}),
  ...(cascade !== undefined ? { cascade } : {}),
});

/**
 * The credential ids an entity's context links it to. Each becomes a path segment of a request with the user's token,
 * so each must be an entity id (path-names.ts): `..` there would send the token to another endpoint. A context with
 * another value is not what this console expects, and is refused as any such answer is, before any request.
 */
const Links = z.object({
  context: z.looseObject({ predecessorId: EntityId.optional(), successorId: EntityId.optional(), credentialId: EntityId.optional() }),
});

/**
 * Entities the root is linked to without depending on it (a credential's predecessor and successor, an association's
 * credential): at most two, read one by one, shown as leaves.
 */
const linked = async (api: Api, root: EntityRef, signal: AbortSignal): Promise<GraphNode[]> => {
  const links: [string, string | undefined][] = [];
  if (root.kind === 'credential' || root.kind === 'association') {
    const { context } = parseAnswer(Links, { context: root.context }, entityPath(root.kind, root.id));
    if (root.kind === 'credential') links.push(['predecessor', context.predecessorId], ['successor', context.successorId]);
    else links.push(['its credential', context.credentialId]);
  }
  const present = links.filter((l): l is [string, string] => l[1] !== undefined);
  return Promise.all(
    present.map(async ([relation, id]) => {
      const e = await api.json(entityPath('credential', id), Entity, signal);
      return graphNode({ streamId: `credential-${id}`, kind: 'credential', id, state: e.state }, relation, []);
    }),
  );
};

export const loadDependencies = async (api: Api, root: EntityRef, signal: AbortSignal): Promise<DependencyGraph> => {
  const [read, links] = await Promise.all([
    api.jsonBehind(`${entityPath(root.kind, root.id)}/dependents?limit=${MAX_DEPENDENTS}`, Dependents, signal),
    linked(api, root, signal),
  ]);
  // Depth first from the server: a dependent's parent is the root or listed before it.
  const { value: answer, eventsBehind, eventsBehindAtLeast } = read;
  const children = new Map<string, Dependent[]>();
  for (const d of answer.dependents) {
    const siblings = children.get(d.parent);
    if (siblings === undefined) children.set(d.parent, [d]);
    else siblings.push(d);
  }
  const tree = (streamId: string): GraphNode[] =>
    (children.get(streamId) ?? []).map((d) => graphNode(d, labelOf(d, root), tree(d.streamId), d.cascade));
  return {
    root: graphNode(answer.root, ROOT_LABEL[root.kind] ?? root.kind, [...tree(answer.root.streamId), ...links]),
    truncated: answer.truncated,
    limit: answer.limit,
    eventsBehind,
    eventsBehindAtLeast,
  };
};
