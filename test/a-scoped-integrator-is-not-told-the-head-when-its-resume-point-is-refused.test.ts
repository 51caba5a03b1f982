import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStream } from './http-sse.fixtures.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 56 finding 1 (SER-025): the 409 `resume_point_not_in_log` named the log's newest position, in `head` and in
 * the detail. For an integrator scoped to a stakeholder that counts the whole fleet's events, which its scope is
 * meant to keep from it. A scoped principal's refusal leaves the head out; an unscoped one's still names it.
 */

const LATER = '2030-01-01T00:00:00.000Z';

let svc: TestService;
let head: bigint;
let scopedToken: string;
beforeAll(async () => {
  svc = await startTestService();
  const credence = svc.service.context.credence;
  for (const step of [cmd.createSubscription('sub-01', LATER), cmd.registerNode('meter-01'), cmd.enrolNode('meter-01', 'sub-01')]) {
    await credence.engine.execute(step);
  }
  await credence.settle();
  head = (await credence.store.headPosition())!;
  const issued = await fetch(`${svc.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
    body: JSON.stringify({ subject: 'city-01', role: 'integrator', ttl: '1h', scope: { subscriptions: ['sub-01'] } }),
  });
  expect(issued.status).toBe(201);
  scopedToken = ((await issued.json()) as { token: string }).token;
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

describe('GET /v1/events resuming past the newest event', () => {
  it('refuses a scoped integrator with 409 naming its resume point but not the head, in the body or the detail', async () => {
    const past = (head + 5n).toString(10);
    for (const [url, headers] of [
      ['/v1/events', { 'last-event-id': past }],
      [`/v1/events?after=${past}`, {}],
    ] as const) {
      const stream = await openStream(svc.url, scopedToken, url, headers);
      expect(stream.status).toBe(409);
      expect(stream.problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: past });
      expect(stream.problem).not.toHaveProperty('head');
      const detail = String(stream.problem!['detail']);
      expect(detail).toContain('from=start');
      expect(detail).not.toContain('newest event is at');
      expect(detail).not.toMatch(new RegExp(`\\b${head}\\b`));
    }
  });

  it('still names the head to an unscoped integrator', async () => {
    const past = (head + 5n).toString(10);
    const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events', { 'last-event-id': past });
    expect(stream.status).toBe(409);
    expect(stream.problem).toMatchObject({ resumeAfter: past, head: head.toString(10) });
    expect(String(stream.problem!['detail'])).toContain(`newest event is at ${head}`);
  });
});
