import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents } from '../adapters/client/sse.ts';
import { request } from '../adapters/client/http.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { startTestService, type TestService } from './support/service.ts';

// `credence serve --store esdb://…`: the same service on EventStoreDB, here through the gRPC stand-in (no server can
// run on these machines; a live one is used by the store conformance suite when EVENTSTORE_CONNECTION_STRING is set).
describe('the service on an EventStoreDB store', () => {
  let standIn: StandIn;
  let svc: TestService;
  beforeAll(async () => {
    standIn = await startStandIn();
    svc = await startTestService({ config: { store: standIn.connectionString } });
  });
  afterAll(async () => {
    await svc?.close();
    await standIn?.stop();
  });

  it('records commands in EventStoreDB, cascades them live and streams them with their global positions', async () => {
    const post = (body: unknown) => request(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body });
    const abort = new AbortController();
    const seen: { id: string; event: string }[] = [];
    const streaming = (async () => {
      for await (const e of subscribeEvents(svc.url, { path: '/v1/events?stream=node-esdb-1', token: svc.tokens.auditor, signal: abort.signal })) {
        seen.push({ id: e.id!.split('~')[0]!, event: e.event });
        if (seen.length === 2) abort.abort();
      }
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) throw error;
    });
    const registered = await post({ type: 'registerNode', data: { nodeId: 'esdb-1', profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: 'esdb-1-boot' } });
    expect(registered.status).toBe(201);
    const revoked = await post({ type: 'revokeNode', data: { nodeId: 'esdb-1', reason: 'keyCompromise' } });
    expect(revoked.status).toBe(201);
    await streaming;
    // The events are in EventStoreDB, not in a file of the data folder. (Beside them, the node's stream may hold the
    // fact claim of its first pseudonym's rotation, which reads the node: docs/eventstoredb.md.)
    expect(standIn.log.stream('node-esdb-1')?.filter((e) => e.type !== FACT_CLAIM_TYPE).map((e) => e.type)).toEqual(['NodeRegistered', 'NodeRevoked']);
    expect(seen.map((e) => e.event)).toEqual(['NodeRegistered', 'NodeRevoked']);
    const positions = (registered.body as { events: { position: string }[] }).events.map((e) => e.position);
    expect(seen[0]!.id).toBe(positions[0]);
    // The read model follows the store live.
    const head = await svc.service.context.credence.store.headPosition();
    expect(await svc.service.context.live.caughtUp(head!)).toBe(true);
    const entity = await request<{ state: string }>(svc.url, { path: '/v1/entities/node/esdb-1', token: svc.tokens.auditor });
    expect(entity.body.state).toBe('revoked');
  });
});
