import { entityPath, type Api } from './api.ts';

/**
 * What depends on an entity (node -> credentials -> associations; App-ID -> credential and instances), read from
 * the entities API: the list of each kind, then each entity's machine context, which names its owner, its
 * credential, its node or its App-ID. Revoked dependents carry the timeline entry that revoked them, whose
 * `causedBy` shows a cascade. Bounded: at most MAX_PER_KIND entities of a kind are read.
 */

export const MAX_PER_KIND = 500;
const PAGE = 500;
const PARALLEL = 6;

export interface EntityRef {
  readonly kind: string;
  readonly id: string;
  readonly state: string;
  readonly context: Readonly<Record<string, unknown>>;
}

export interface Revocation {
  readonly type: string;
  readonly position: string;
  readonly reason?: string;
  readonly causedBy?: { readonly position: string; readonly streamId: string; readonly type: string };
}

export interface GraphNode {
  readonly entity: EntityRef;
  readonly relation: string;
  readonly revocation?: Revocation;
  readonly children: readonly GraphNode[];
}

export interface DependencyGraph {
  readonly root: GraphNode;
  /** Kinds with more entities than were read: the graph may miss dependents. */
  readonly truncated: readonly string[];
}

interface Summary {
  readonly kind: string;
  readonly id: string;
  readonly state: string;
}

const listIds = async (api: Api, kind: string, signal: AbortSignal): Promise<{ items: Summary[]; truncated: boolean }> => {
  const items: Summary[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.json<{ items: Summary[]; nextCursor?: string }>(
      `/v1/entities?kind=${kind}&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      signal,
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && items.length < MAX_PER_KIND);
  return { items: items.slice(0, MAX_PER_KIND), truncated: cursor !== undefined };
};

const inParallel = async <T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
};

const readKind = async (api: Api, kind: string, signal: AbortSignal): Promise<{ entities: EntityRef[]; truncated: boolean }> => {
  const { items, truncated } = await listIds(api, kind, signal);
  const entities = await inParallel(items, async (s) => {
    const e = await api.json<{ state: string; context: Record<string, unknown> }>(entityPath(kind, s.id), signal);
    return { kind, id: s.id, state: e.state, context: e.context };
  });
  return { entities, truncated };
};

const revocationOf = async (api: Api, e: EntityRef, signal: AbortSignal): Promise<Revocation | undefined> => {
  if (e.state !== 'revoked') return undefined;
  const timeline = await api.json<{ entries: Revocation[] }>(`${entityPath(e.kind, e.id)}/timeline`, signal);
  return [...timeline.entries].reverse().find((entry) => entry.type.endsWith('Revoked'));
};

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const ownerOf = (c: EntityRef): { kind?: string; id?: string } => (c.context['owner'] as { kind?: string; id?: string } | undefined) ?? {};
const registreeOf = (a: EntityRef): { kind?: string; id?: string; appId?: string } =>
  (a.context['registree'] as { kind?: string; id?: string; appId?: string } | undefined) ?? {};

/** Every entity in the graph, once: whose revocations are worth reading. */
const members = (node: GraphNode, into = new Map<string, EntityRef>()): Map<string, EntityRef> => {
  into.set(`${node.entity.kind}/${node.entity.id}`, node.entity);
  for (const child of node.children) members(child, into);
  return into;
};

/** The graph with each revoked member's revocation (and so its cause) attached. */
const withRevocations = (node: GraphNode, revocations: ReadonlyMap<string, Revocation | undefined>): GraphNode => {
  const revocation = revocations.get(`${node.entity.kind}/${node.entity.id}`);
  const children = node.children.map((c) => withRevocations(c, revocations));
  return { entity: node.entity, relation: node.relation, children, ...(revocation !== undefined ? { revocation } : {}) };
};

export const loadDependencies = async (api: Api, root: EntityRef, signal: AbortSignal): Promise<DependencyGraph> => {
  const wanted = root.kind === 'subscription' ? ['node', 'credential', 'association'] : ['credential', 'association'];
  const read = await Promise.all(wanted.map((k) => readKind(api, k, signal)));
  const byKind = new Map(wanted.map((k, i) => [k, read[i]!.entities]));
  const truncated = wanted.filter((_k, i) => read[i]!.truncated);
  const tree = dependentsOf(root, byKind.get('node') ?? [], byKind.get('credential') ?? [], byKind.get('association') ?? []);
  // Only the graph's own revoked members: one timeline each, not one per revoked entity of the fleet.
  const revoked = [...members(tree).values()].filter((e) => e.state === 'revoked');
  const revocations = new Map<string, Revocation | undefined>();
  await inParallel(revoked, async (e) => revocations.set(`${e.kind}/${e.id}`, await revocationOf(api, e, signal)));
  return { root: withRevocations(tree, revocations), truncated };
};

/** node -> credentials -> associations; App-ID -> credential and instances; and the other kinds' links. */
const dependentsOf = (root: EntityRef, nodes: readonly EntityRef[], credentials: readonly EntityRef[], associations: readonly EntityRef[]): GraphNode => {
  const leaf = (entity: EntityRef, relation: string, children: readonly GraphNode[] = []): GraphNode => ({ entity, relation, children });
  const associationsOf = (credentialId: string) =>
    associations.filter((a) => str(a.context['credentialId']) === credentialId).map((a) => leaf(a, 'security association'));
  const credentialTree = (c: EntityRef, relation: string) => leaf(c, relation, associationsOf(c.id));
  const nodeTree = (n: EntityRef, relation: string): GraphNode => {
    const owned = credentials.filter((c) => ownerOf(c).kind === 'node' && ownerOf(c).id === n.id);
    const covered = new Set(owned.flatMap((c) => associations.filter((a) => str(a.context['credentialId']) === c.id).map((a) => a.id)));
    const other = associations.filter((a) => str(a.context['nodeId']) === n.id && !covered.has(a.id)).map((a) => leaf(a, 'security association'));
    const bootstrap = str(n.context['bootstrapCredentialId']);
    return leaf(n, relation, [...owned.map((c) => credentialTree(c, c.id === bootstrap ? 'bootstrap credential' : 'credential')), ...other]);
  };

  switch (root.kind) {
    case 'node':
      return nodeTree(root, 'node');
    case 'credential': {
      const links = [str(root.context['predecessorId']), str(root.context['successorId'])];
      const related = credentials.filter((c) => links.includes(c.id)).map((c) => leaf(c, c.id === links[0] ? 'predecessor' : 'successor'));
      return leaf(root, 'credential', [...associationsOf(root.id), ...related]);
    }
    case 'application': {
      const credentialId = str(root.context['credentialId']);
      const credential = credentials.filter((c) => c.id === credentialId || (ownerOf(c).kind === 'app' && ownerOf(c).id === root.id));
      const instances = associations
        .filter((a) => registreeOf(a).kind === 'ae' && registreeOf(a).appId === root.id)
        .map((a) => leaf(a, `instance ${registreeOf(a).id ?? ''}`.trim()));
      return leaf(root, 'App-ID', [...credential.map((c) => leaf(c, 'credential')), ...instances]);
    }
    case 'association': {
      const credential = credentials.filter((c) => c.id === str(root.context['credentialId'])).map((c) => leaf(c, 'its credential'));
      return leaf(root, 'security association', credential);
    }
    case 'subscription': {
      const enrolled = nodes.filter((n) => str(n.context['subscriptionId']) === root.id).map((n) => nodeTree(n, 'enrolled node'));
      return leaf(root, 'M2M Service Subscription', enrolled);
    }
    default:
      return leaf(root, root.kind);
  }
};
