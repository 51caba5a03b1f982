import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, openApi, type Api } from './http-conformance.fixtures.ts';
import { openStream, settled } from './http-sse.fixtures.ts';
import { startTestService, useTestService, type TestService } from './support/service.ts';

/*
 * Found in review: a Last-Event-ID (or ?after=) past the log's newest event was taken as it came. The stream skipped
 * every event up to it without a word, and the pseudonymised stream folded identities only up to the head, so
 * events after a rotation in that window went out under the node's old pseudonym for good: an integrator holding
 * that stream and an honest one could link old and new pseudonyms (SER-011, SER-018, SER-025). Such a resume point
 * names no event of this log (a store restored from an older backup, or an id never sent): it is refused, 409.
 */

describe('GET /v1/events on an empty log', () => {
  const svc = useTestService();

  it('resumes after 0 (it skips nothing), and refuses any other position, which names no event of this log', async () => {
    const zero = await openStream(svc.url, svc.tokens.auditor, '/v1/events?after=0');
    try {
      expect(zero.status).toBe(200);
    } finally {
      zero.close();
    }
    const one = await openStream(svc.url, svc.tokens.auditor, '/v1/events', { 'last-event-id': '1' });
    expect(one.status).toBe(409);
    expect(String(one.problem!['detail'])).toContain('this log holds no event');
  });
});

describe('GET /v1/events resuming after a position past the newest event', () => {
  let svc: TestService;
  let api: Api;
  let head: bigint;
  beforeAll(async () => {
    svc = await startTestService();
    api = await openApi(svc);
    const reply = await api.call('POST', '/v1/commands', {}, { token: svc.tokens.operator, body: body.registerNode('meter-1') });
    expect(reply.status).toBe(201);
    await settled(svc);
    head = (await svc.service.context.credence.store.headPosition())!;
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it.each([
    ['auditor', 'canonical', '/v1/events'],
    ['integrator', 'pseudonymised', '/v1/events?kind=node'],
  ] as const)('is refused for the %s (%s stream): 409 naming the newest position, by header or by query', async (role, _which, path) => {
    const past = (head + 1n).toString(10);
    for (const [url, headers] of [
      [path, { 'last-event-id': past }],
      [`${path}${path.includes('?') ? '&' : '?'}after=${past}`, {}],
    ] as const) {
      const stream = await openStream(svc.url, svc.tokens[role], url, headers);
      expect(stream.status).toBe(409);
      expect(stream.problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), status: 409, resumeAfter: past, head: head.toString(10) });
      expect(String(stream.problem!['detail'])).toContain('from=start');
    }
  });

  it('resumes after the newest event itself, and after an earlier one, as before', async () => {
    for (const after of [head, head - 1n]) {
      const stream = await openStream(svc.url, svc.tokens.auditor, '/v1/events', { 'last-event-id': after.toString(10) });
      try {
        expect(stream.status).toBe(200);
      } finally {
        stream.close();
      }
    }
  });
});
