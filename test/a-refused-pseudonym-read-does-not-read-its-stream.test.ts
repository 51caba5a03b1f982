import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore, ReadStreamOptions } from '../domain/ports/index.ts';
import { body, openApi, settled, type Api } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review: deciding whether the caller had resolved a pseudonym read the pseudonym's whole stream, which
 * auditors' resolutions grow without end (144-223 ms of blocked event loop per refused request at 10,000 events).
 * The decision now asks the pseudonym directory's table of resolutions: a 403 reads no more of the stream than one
 * event at a time, and a resolution just recorded still counts (read-your-writes).
 */
describe('a refused pseudonym read does not read its stream', () => {
  let svc: TestService;
  let api: Api;
  let pseudonym = '';
  /** Every readStream of the pseudonym's stream since the last reset: its options. */
  let reads: (ReadStreamOptions | undefined)[] = [];

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('meter-9') })).status).toBe(201);
    await settled(svc);
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated' && e.data['nodeId'] === 'meter-9') pseudonym = String(e.data['pseudonym']);
    }
    expect(pseudonym).not.toBe('');
    const store = svc.service.context.credence.store as EventStore & { readStream: EventStore['readStream'] };
    const readStream = store.readStream.bind(store);
    store.readStream = (streamId, options) => {
      if (streamId === `pseudonym-${pseudonym}`) reads.push(options);
      return readStream(streamId, options);
    };
  });
  afterAll(async () => {
    await svc?.close();
  });

  const timeline = () => api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'pseudonym', id: pseudonym }, { token: svc.tokens.auditor });

  it('refuses an auditor who recorded no resolution with 403, reading at most one event of the stream per read', async () => {
    reads = [];
    expect((await timeline()).status).toBe(403);
    // Review 409: not even its first event (whether it exists), which a refusal must not tell.
    expect(reads.every((o) => o?.maxCount === 1)).toBe(true);
  });

  it('answers the same auditor right after it records a resolution, from the directory, not the stream', async () => {
    const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym, reason: 'case 42' } });
    expect(resolved.status).toBeLessThan(300);
    reads = [];
    expect((await timeline()).status).toBe(200);
    expect(reads.every((o) => o?.maxCount === 1)).toBe(true);
  });
});

/**
 * Review 416: with the pseudonym directory behind (a stopped live runtime, or none), the decision fell back to reading
 * the pseudonym's stream with no bound, so a real pseudonym answered measurably slower than a made-up one, by as much
 * as its stream was long. The fallback now reads at most `limits.maxEntityEvents` events, which the resolution bound
 * (resolution-bound.ts) keeps the whole of such a stream: a resolution the directory has not handled still counts.
 */
describe('a pseudonym read while the directory is behind', () => {
  let svc: TestService;
  let api: Api;
  let pseudonym = '';
  let reads: (ReadStreamOptions | undefined)[] = [];

  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    expect((await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('meter-8') })).status).toBe(201);
    await settled(svc);
    for await (const e of svc.service.context.credence.store.readAll()) {
      if (e.type === 'PseudonymRotated' && e.data['nodeId'] === 'meter-8') pseudonym = String(e.data['pseudonym']);
    }
    expect(pseudonym).not.toBe('');
    const store = svc.service.context.credence.store as EventStore & { readStream: EventStore['readStream'] };
    const readStream = store.readStream.bind(store);
    store.readStream = (streamId, options) => {
      if (streamId === `pseudonym-${pseudonym}`) reads.push(options);
      return readStream(streamId, options);
    };
  });
  afterAll(async () => {
    await svc?.close();
  });

  it("answers an auditor's resolution the directory has not handled, reading at most maxEntityEvents events of the stream", async () => {
    await svc.service.context.live.stop();
    const resolved = await api.call('POST', '/v1/pseudonyms/resolutions', {}, { token: svc.tokens.auditor, body: { pseudonym, reason: 'case 43' } });
    expect(resolved.status).toBeLessThan(300);
    reads = [];
    const answer = await api.call('GET', '/v1/entities/{kind}/{id}/timeline', { kind: 'pseudonym', id: pseudonym }, { token: svc.tokens.auditor });
    expect(answer.status).toBe(200);
    const bound = svc.service.context.limits.maxEntityEvents;
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.map((o) => o?.maxCount)).toEqual(reads.map(() => expect.toSatisfy((n: unknown) => typeof n === 'number' && n <= bound)));
  });
});
