import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredPseudonym } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review: each POST /v1/pseudonyms/resolutions with a new commandId appended another PseudonymResolved to
 * the same pseudonym's stream (some 20,000 in 3.5 minutes within the rate limit), and every read of the pseudonym
 * reads that stream whole. One auditor may record at most `limits.maxResolutionsPerPseudonym` resolutions of one
 * pseudonym; one more is 409 resolution_limit and records nothing.
 */
const LIMIT = 3;
const NODE = 'resolved-meter-1';

let svc: TestService;
let pseudonym = '';
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { maxResolutionsPerPseudonym: LIMIT } } });
  pseudonym = await registeredPseudonym(svc, NODE);
}, 30_000);
afterAll(async () => {
  await svc?.close();
});

const auditor = async (subject: string): Promise<string> =>
  (await svc.service.context.access.issue({ subject, role: 'auditor', ttlSeconds: 3_600, issuedBy: 'test' })).token;

const resolve = async (token: string, commandId: string = randomUUID()): Promise<{ status: number; body: Record<string, unknown> }> => {
  const reply = await fetch(new URL('/v1/pseudonyms/resolutions', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pseudonym, reason: 'case 2026-117', commandId }),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

/** Resolutions of the pseudonym the store holds, by auditor subject. */
const recorded = async (): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {};
  for (const e of await svc.service.context.credence.store.readStream(`pseudonym-${pseudonym}`)) {
    if (e.type !== 'PseudonymResolved') continue;
    const id = String((e.metadata['actor'] as { id: string }).id);
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
};

describe('resolutions of one pseudonym by one auditor', () => {
  it('are bounded: one past the bound is 409 resolution_limit naming it, and nothing is appended', async () => {
    const token = await auditor('auditor-bounded');
    const ids = Array.from({ length: LIMIT }, () => randomUUID());
    for (const id of ids) expect((await resolve(token, id)).status).toBe(200);
    const head = await svc.service.context.credence.store.headPosition();

    const refused = await resolve(token);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ status: 409, type: expect.stringMatching(/resolution_limit$/), limit: LIMIT });
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);
    expect((await recorded())['auditor-bounded']).toBe(LIMIT);
  });

  it('still answers a repeated commandId at the bound (a retry records nothing), and bounds each auditor on its own', async () => {
    const token = await auditor('auditor-retrying');
    const ids = Array.from({ length: LIMIT }, () => randomUUID());
    const answers = [];
    for (const id of ids) answers.push(await resolve(token, id));
    const head = await svc.service.context.credence.store.headPosition();

    const retried = await resolve(token, ids[LIMIT - 1]);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(answers[LIMIT - 1]!.body);
    expect(await svc.service.context.credence.store.headPosition()).toBe(head);

    expect((await resolve(await auditor('auditor-other'))).status).toBe(200);
    expect(await recorded()).toMatchObject({ 'auditor-retrying': LIMIT, 'auditor-other': 1 });
  });

  it('holds under concurrent requests: of twice the bound sent at once, exactly the bound are recorded', async () => {
    const token = await auditor('auditor-concurrent');
    const replies = await Promise.all(Array.from({ length: 2 * LIMIT }, () => resolve(token)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(LIMIT);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(LIMIT);
    expect((await recorded())['auditor-concurrent']).toBe(LIMIT);
  });
});
