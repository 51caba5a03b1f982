import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import type { Credence } from '../adapters/runtime/index.ts';
import { checkFilterInScope } from '../adapters/http/sse/scope-reach.ts';
import { isCredenceError, type FieldIssue } from '../domain/errors.ts';
import { EVENT_KIND, EVENT_TYPES, type EventType } from '../domain/events/index.ts';
import { MACHINES } from '../machines/index.ts';
import { PUBLIC_DATA, type PublicScope } from '../projections/pseudonyms/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { publicHistory, twoStakeholderFleet } from './support/two-stakeholder-fleet.ts';
import { openStream } from './http-sse.fixtures.ts';

/*
 * Review (F3): a scoped integrator could open a filtered stream its scope can never fill (a token scoped to App-IDs
 * only got 200 and then nothing for kind=node, type=NodeEnrolled, kind=subscription), holding one of the few
 * pseudonymised places for ever. Such a filter is now 400 validation, naming the field, rule not_in_scope; a filter
 * that can match something its scope publishes still opens.
 *
 * Review 263: the check read every node event type as one a subscription's scope publishes, so `type=NodeRegistered`
 * opened (200) and stayed silent for ever: a node's first event comes before it is enrolled under any subscription,
 * and a scope admits a node's events only from its enrolment on. It is refused; `kind=node` still opens.
 */

const APP_ONLY = { appIds: ['Rapp01'] } as PublicScope;
const SUBSCRIPTION_ONLY = { subscriptions: ['sub-01'] } as PublicScope;

describe('GET /v1/events with a scoped integrator token', () => {
  let svc: TestService;
  let appOnly: string;
  let subscriptionOnly: string;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { sseHeartbeatMs: 100, maxSseStreamsPerPrincipal: 16, maxPseudonymisedStreams: 16 } } });
    const issue = async (subject: string, scope: PublicScope) =>
      (await svc.service.context.access.issue({ subject, role: 'integrator', ttlSeconds: 3600, issuedBy: 'test', scope })).token;
    appOnly = await issue('asp-01', APP_ONLY);
    subscriptionOnly = await issue('city-01', SUBSCRIPTION_ONLY);
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  const statusOf = async (token: string, query: string): Promise<{ status: number; errors?: unknown }> => {
    const s = await openStream(svc.url, token, `/v1/events?from=end&${query}`);
    s.close();
    return s.status === 200 ? { status: 200 } : { status: s.status, errors: s.problem?.['errors'] };
  };

  it.each([
    ['kind=node', 'query.kind.0'],
    ['kind=subscription', 'query.kind.0'],
    ['kind=association,node', 'query.kind.1'],
    ['type=NodeEnrolled', 'query.type.0'],
    ['type=CredentialAssociated', 'query.type.0'],
  ])('refuses %s to a token scoped to App-IDs only: 400 naming %s, rule not_in_scope', async (query, path) => {
    const refused = await statusOf(appOnly, query);
    expect(refused.status).toBe(400);
    expect(refused.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path, rule: 'not_in_scope' })]));
  });

  it.each([['type=ApplicationRegistered'], ['type=ApplicationEnrolled,ApplicationRevoked'], ['type=NodeRegistered']])(
    'refuses %s to a token scoped to subscriptions only',
    async (query) => {
      const refused = await statusOf(subscriptionOnly, query);
      expect(refused.status).toBe(400);
      expect(refused.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'query.type.0', rule: 'not_in_scope' })]));
    },
  );

  it.each([
    [APP_ONLY, 'kind=application'],
    [APP_ONLY, 'kind=credential'],
    [APP_ONLY, 'type=ApplicationInstanceAssociated'],
    [APP_ONLY, 'kind=node,application'],
    [APP_ONLY, 'type=NodeEnrolled,CredentialIssued'],
    [SUBSCRIPTION_ONLY, 'kind=application'],
    [SUBSCRIPTION_ONLY, 'type=ApplicationInstanceAssociated'],
    [SUBSCRIPTION_ONLY, 'kind=node'],
    [SUBSCRIPTION_ONLY, 'type=CredentialAssociated'],
  ])('opens a filter that can match what the scope %j publishes: %s', async (scope, query) => {
    expect(await statusOf(scope === APP_ONLY ? appOnly : subscriptionOnly, query)).toEqual({ status: 200 });
  });
});

describe('what the check refuses, against what a scoped stream publishes', () => {
  let c: Credence;
  beforeAll(async () => {
    c = await twoStakeholderFleet();
  }, 60_000);
  afterAll(async () => {
    await c?.close();
  });

  const issuesOf = (types: readonly EventType[], scope: PublicScope): readonly FieldIssue[] => {
    try {
      checkFilterInScope({ types: [...types] }, scope);
      return [];
    } catch (error) {
      if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
      throw error;
    }
  };

  it('never refuses a type the scoped stream publishes, and no type of a refused filter is ever published', async () => {
    const published = EVENT_TYPES.filter((type) => PUBLIC_DATA[type] !== null);
    for (const scope of [APP_ONLY, SUBSCRIPTION_ONLY, { ...SUBSCRIPTION_ONLY, ...APP_ONLY } as PublicScope]) {
      const seen = new Set((await publicHistory(c, scope)).map((e) => e.type));
      expect(seen.size, JSON.stringify(scope)).toBeGreaterThan(0);
      for (const type of seen) expect(issuesOf([type], scope), `${type} in ${JSON.stringify(scope)}`).toEqual([]);
      const refused = published.filter((type) => issuesOf([type], scope).length > 0);
      for (const type of refused) expect(seen.has(type), `${type} in ${JSON.stringify(scope)}`).toBe(false);
    }
    // A scope with both parts publishes every published type but a node's that only comes before its first enrolment.
    const nodeTypes = published.filter((type) => EVENT_KIND[type] === 'node');
    const beforeEnrolmentOnly = nodeTypes.filter((type) => !nodeTypesOnceEnrolled().has(type));
    expect(beforeEnrolmentOnly.length).toBeGreaterThan(0);
    expect(published.filter((type) => issuesOf([type], { ...SUBSCRIPTION_ONLY, ...APP_ONLY } as PublicScope).length > 0)).toEqual(beforeEnrolmentOnly);
  });

  it("accepts a node event type for a subscription's scope exactly when the node's machine takes it once enrolled", () => {
    const nodeTypes = EVENT_TYPES.filter((type) => EVENT_KIND[type] === 'node' && PUBLIC_DATA[type] !== null);
    const accepted = nodeTypes.filter((type) => issuesOf([type], SUBSCRIPTION_ONLY).length === 0);
    expect(new Set(accepted)).toEqual(nodeTypesOnceEnrolled());
  });
});

/**
 * The node event types its machine can take once the node is enrolled, its first `NodeEnrolled` included: a scope
 * admits a node's events only from that enrolment on (the identity fold learns the node's subscription from it,
 * projections/pseudonyms/scope-rules.ts), so these are the node types a subscription's stream can publish. Read off
 * the machine, walking its states from the initial one with whether the node has been enrolled on the way.
 */
const nodeTypesOnceEnrolled = (): ReadonlySet<string> => {
  const root = MACHINES.node.root;
  const types = new Set<string>();
  const visited = new Set<string>();
  const queue: Array<[AnyStateNode, boolean]> = [[root.states[String(MACHINES.node.config.initial)]!, false]];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [state, enrolled] = next;
    if (visited.has(`${state.key}/${enrolled}`)) continue;
    visited.add(`${state.key}/${enrolled}`);
    for (const [type, transitions] of state.transitions) {
      const enrolledAfter = enrolled || type === 'NodeEnrolled';
      if (enrolledAfter) types.add(type);
      for (const transition of transitions) queue.push([transition.target?.[0] ?? state, enrolledAfter]);
    }
  }
  return types;
};
