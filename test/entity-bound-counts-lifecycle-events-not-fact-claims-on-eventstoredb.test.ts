import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Review 172: on EventStoreDB every decision that reads a fact appends a fact claim to the fact's stream (one per node
 * enrolled and per credential provisioned under a subscription), and the whole-stream reads counted those records
 * against `limits.maxEntityEvents`: a subscription of some 3,300 nodes became unreadable (422 `entity_too_long`) with
 * one lifecycle event. The bound now counts lifecycle events; `limits.maxEntityRecords` bounds the records one such
 * request reads, claims included.
 */
const MAX_EVENTS = 20;
const MAX_RECORDS = 30;

describe('the whole-stream bound on EventStoreDB counts lifecycle events, not fact claims', () => {
  let standIn: StandIn;
  let svc: TestService;
  let api: Api;

  /**
   * A subscription with `nodes` nodes enrolled under it, each with two credentials issued and provisioned: 1 event, 5
   * claims a node (its enrolment, and each credential's issue and provisioning: endsWithinSubscription, review 205).
   */
  const subscriptionWith = async (subscriptionId: string, nodes: number): Promise<void> => {
    const commands: unknown[] = [body.createSubscription(subscriptionId)];
    for (let n = 0; n < nodes; n++) {
      const node = `${subscriptionId}-gw-${n}`;
      commands.push(body.registerNode(node), body.enrolNode(node, subscriptionId));
      for (const c of [1, 2]) commands.push(body.issueCredential(`${node}-c${c}`, node), body.provisionCredential(`${node}-c${c}`));
    }
    for (const payload of commands) {
      const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload });
      expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    }
  };
  const records = (streamId: string) => standIn.log.stream(streamId) ?? [];

  beforeAll(async () => {
    standIn = await startStandIn();
    svc = await startTestService({ config: { store: standIn.connectionString, limits: { maxEntityEvents: MAX_EVENTS, maxEntityRecords: MAX_RECORDS } } });
    api = await openApi(svc);
    await subscriptionWith('sub-five', 5);
    await subscriptionWith('sub-eleven', 11);
    await settled(svc);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
    await standIn?.stop();
  });

  const reads = (id: string): readonly (readonly [string, () => ReturnType<Api['call']>])[] => {
    const entity = { kind: 'subscription', id };
    const token = svc.tokens.auditor;
    return [
      ['entity', () => api.call('GET', '/v1/entities/{kind}/{id}', entity, { token })],
      ['timeline', () => api.call('GET', '/v1/entities/{kind}/{id}/timeline', entity, { token })],
      ['state', () => api.call('GET', '/v1/entities/{kind}/{id}/state', entity, { token, query: { at: new Date(Date.now() + 60_000).toISOString() } })],
      ['replay', () => api.call('GET', '/v1/replay/{kind}/{id}', entity, { token })],
      ['evidence', () => api.call('GET', '/v1/transparency/evidence/{kind}/{id}', entity, { token })],
    ];
  };

  it('serves a subscription whose stream holds more records than maxEntityEvents, nearly all of them fact claims', async () => {
    const held = records('subscription-sub-five');
    // 5 enrolments, 10 issues and 10 provisionings claimed the subscription: 26 records, one lifecycle event.
    expect(held).toHaveLength(26);
    expect(held.filter((r) => r.type === FACT_CLAIM_TYPE)).toHaveLength(25);
    for (const [name, call] of reads('sub-five')) {
      const reply = await call();
      expect(reply.status, `${name}: ${JSON.stringify(reply.body)}`).toBe(200);
    }
    const entity = await api.call<{ state: string }>('GET', '/v1/entities/{kind}/{id}', { kind: 'subscription', id: 'sub-five' }, { token: svc.tokens.auditor });
    expect(entity.body.state).toBe('active');
    const timeline = await api.call<{ entries: unknown[] }>('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'subscription', id: 'sub-five' }, { token: svc.tokens.auditor });
    expect(timeline.body.entries).toHaveLength(1);
  });

  it('refuses one whose stream holds more records than maxEntityRecords with 422 entity_too_long naming records and claims', async () => {
    // 11 enrolments, 22 issues and 22 provisionings: 56 records, past the 30 one request reads; of the first 30 read, 29
    // are claims.
    expect(records('subscription-sub-eleven')).toHaveLength(56);
    for (const [name, call] of reads('sub-eleven')) {
      const reply = await call();
      expect(reply.status, name).toBe(422);
      expect(reply.body, name).toMatchObject({
        type: 'https://credence.dev/problems/entity_too_long',
        streamId: 'subscription-sub-eleven',
        events: 1,
        records: 56,
        claims: 29,
        maxEvents: MAX_EVENTS,
        maxRecords: MAX_RECORDS,
      });
      const { detail } = reply.body as { detail: string };
      expect(detail, name).toMatch(/56 records/);
      expect(detail, name).toMatch(/29 .*EventStoreDB fact claims/);
      expect(detail, name).toMatch(/limits\.maxEntityRecords/);
    }
  });
});
