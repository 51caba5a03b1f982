import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lengthBeyond } from '../adapters/http/routes/entity-bound.ts';
import type { ReadStreamOptions, RecordedEvent } from '../domain/ports/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review: the per-entity reads read, rebuilt or proved the whole stream in one request, with no bound: a
 * pseudonym stream of 20,000 events held the event loop 0.5 s (GET /v1/entities/{kind}/{id}) to 7.3 s (its evidence
 * bundle) per call. Now each refuses an entity longer than the bound (limits.maxEntityEvents; 1 here) with 422
 * `entity_too_long` before reading it, and the timeline pages instead.
 */
describe('per-entity reads refuse an entity longer than the bound', () => {
  // A bound of one event: every entity of more is refused, so the test need not store 10,000 events.
  let svc: TestService;
  let api: Api;
  const node = { kind: 'node', id: 'gw' };
  let events = 0;

  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { maxEntityEvents: 1 } } });
    api = await openApi(svc);
    for (const payload of [body.createSubscription(), body.registerNode('gw'), body.enrolNode('gw'), body.issueCredential('gw-c1', 'gw')]) {
      expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: payload })).status).toBe(201);
    }
    await settled(svc);
    events = (await svc.service.context.credence.store.readStream('node-gw')).length;
    expect(events).toBeGreaterThanOrEqual(2);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const calls = (): readonly (readonly [string, () => ReturnType<Api['call']>])[] => [
    ['entity', () => api.call('GET', '/v1/entities/{kind}/{id}', node, { token: svc.tokens.auditor })],
    ['timeline', () => api.call('GET', '/v1/entities/{kind}/{id}/timeline', node, { token: svc.tokens.auditor })],
    ['state', () => api.call('GET', '/v1/entities/{kind}/{id}/state', node, { token: svc.tokens.auditor, query: { at: new Date(Date.now() + 60_000).toISOString() } })],
    ['replay', () => api.call('GET', '/v1/replay/{kind}/{id}', node, { token: svc.tokens.auditor })],
    ['evidence', () => api.call('GET', '/v1/transparency/evidence/{kind}/{id}', node, { token: svc.tokens.auditor })],
  ];

  it('refuses each whole-stream read of an entity past the bound with 422 entity_too_long naming its length and the bound', async () => {
    for (const [name, call] of calls()) {
      const reply = await call();
      expect(reply.status, name).toBe(422);
      expect(reply.type, name).toMatch(/^application\/problem\+json/);
      expect(reply.body, name).toMatchObject({ type: 'https://credence.dev/problems/entity_too_long', status: 422, streamId: 'node-gw', events, maxEvents: 1 });
      expect((reply.body as { detail: string }).detail, name).toMatch(/timeline\?limit=|credence export/);
    }
  });

  it('answers an entity within the bound (the default, 10,000)', async () => {
    const roomy = await startTestService();
    try {
      const roomyApi = await openApi(roomy);
      for (const payload of [body.createSubscription(), body.registerNode('gw'), body.enrolNode('gw')]) {
        expect((await roomyApi.call('POST', '/v1/commands', {}, { token: roomy.tokens.operator, body: payload })).status).toBe(201);
      }
      await settled(roomy);
      const reads = [
        roomyApi.call('GET', '/v1/entities/{kind}/{id}', node, { token: roomy.tokens.auditor }),
        roomyApi.call('GET', '/v1/entities/{kind}/{id}/timeline', node, { token: roomy.tokens.auditor }),
        roomyApi.call('GET', '/v1/replay/{kind}/{id}', node, { token: roomy.tokens.auditor }),
        roomyApi.call('GET', '/v1/transparency/evidence/{kind}/{id}', node, { token: roomy.tokens.auditor }),
      ];
      for (const reply of await Promise.all(reads)) expect(reply.status).toBe(200);
    } finally {
      await roomy.close();
    }
  });

  it('pages the timeline of an entity past the bound with limit and after', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages <= events; pages++) {
      const reply = await api.call<{ entries: { revision: string }[]; nextAfter?: string }>('GET', '/v1/entities/{kind}/{id}/timeline', node, {
        token: svc.tokens.auditor,
        query: { limit: '1', ...(after !== undefined ? { after } : {}) },
      });
      expect(reply.status).toBe(200);
      expect(reply.body.entries).toHaveLength(1);
      seen.push(...reply.body.entries.map((e) => e.revision));
      after = reply.body.nextAfter;
      if (after === undefined) break;
    }
    expect(seen).toEqual(Array.from({ length: events }, (_, i) => String(i)));
  });

  it('finds the length of a stream past the bound by single-event reads, never a whole-stream read', async () => {
    for (const length of [0, 1, 3, 4, 5, 7, 8, 9, 16, 17, 100]) {
      const reads: (ReadStreamOptions | undefined)[] = [];
      const store = {
        readStream: async (_streamId: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]> => {
          reads.push(options);
          const from = Number(options?.fromRevision ?? 0n);
          return from < length ? [{ revision: BigInt(from) } as RecordedEvent] : [];
        },
      };
      expect(await lengthBeyond(store, 's', 4), String(length)).toBe(length > 4 ? length : undefined);
      expect(reads.every((o) => o?.maxCount === 1)).toBe(true);
    }
  });
});
