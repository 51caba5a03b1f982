import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../adapters/client/http.ts';
import { startTestService, type TestService } from './support/service.ts';
import { dataOf, openStream, ops, settled } from './http-sse.fixtures.ts';

// Issue 12: "revocation seen by an SSE client with the cascade running live". A node revoked over POST
// /v1/commands reaches an SSE client together with the revocations the process manager cascades to its
// credentials and associations, with no caller running settle().

let svc: TestService;
beforeAll(async () => {
  // Load shedding is not what this test is about (a busy test machine can trip the event-loop check).
  svc = await startTestService({ config: { limits: { maxEventLoopDelayMs: 0 } } });
  const { engine } = svc.service.context.credence;
  for (const step of [
    ops.createSubscription('sub-gw'),
    ops.registerNode('gw'),
    ops.enrolNode('gw', 'sub-gw'),
    ops.issueCredential('gw-c1', 'gw'),
    ops.provisionCredential('gw-c1'),
    ops.issueCredential('gw-c2', 'gw'),
    ops.provisionCredential('gw-c2'),
    ops.configureAssociation('gw-a1', 'gw-c1', 'gw'),
    ops.establishAssociation('gw-a1'),
    ops.configureAssociation('gw-a2', 'gw-c2', 'gw'),
    ops.establishAssociation('gw-a2'),
  ]) {
    await engine.execute(step);
  }
  await settled(svc);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const REVOKED = ['association-gw-a1', 'association-gw-a2', 'credential-gw-c1', 'credential-gw-c2', 'node-gw'];

describe('a node revocation on the SSE stream', () => {
  it('arrives with the cascaded credential and association revocations', async () => {
    const head = (await svc.service.context.credence.store.headPosition())!.toString();
    const path = `/v1/events?kind=node,credential,association&after=${head}`;
    const operator = await openStream(svc.url, svc.tokens.operator, path);
    const integrator = await openStream(svc.url, svc.tokens.integrator, `/v1/events?kind=node,credential,association&after=${head}`);
    try {
      await request(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body: { type: 'revokeNode', data: { nodeId: 'gw', reason: 'keyCompromise' } } });
      const revoked = () => operator.events().filter((e) => e.event.endsWith('Revoked'));
      await operator.until(() => revoked().length >= REVOKED.length, 'the node and its cascaded revocations');
      const events = revoked().map(dataOf);
      expect(events.map((e) => e['streamId']).sort()).toEqual(REVOKED);
      expect(revoked()[0]!.event).toBe('NodeRevoked');
      // Every cascaded revocation belongs to the node revocation's correlation.
      const correlation = (events[0]!['metadata'] as { correlationId: string }).correlationId;
      for (const e of events) expect((e['metadata'] as { correlationId: string }).correlationId).toBe(correlation);
      // Ids are positions, strictly increasing.
      const ids = operator.events().map((e) => BigInt(e.id.split('~')[0]!));
      for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);

      // The integrator sees the same revocations, under pseudonyms.
      const publicRevoked = () => integrator.events().filter((e) => e.event.endsWith('Revoked'));
      await integrator.until(() => publicRevoked().length >= REVOKED.length, 'the pseudonymised revocations');
      expect(publicRevoked().map((e) => e.id.split('~')[0])).toEqual(revoked().map((e) => e.id.split('~')[0]));
      expect(publicRevoked().map((e) => e.data).join('\n')).not.toMatch(/gw-|"gw"/);
    } finally {
      operator.close();
      integrator.close();
    }
  }, 30_000);
});
