import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ReadStreamOptions } from '../domain/ports/index.ts';
import { body, settled } from './http-conformance.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review (SER-001, SER-025): the bound on resolutions of one pseudonym was per auditor subject, and an admin
 * mints auditor subjects without number, so the pseudonym's stream (one PseudonymResolved per resolution) still grew
 * without bound; and the check read that whole stream for every request. Now the stream itself is bounded at
 * `limits.maxEntityEvents` (409 pseudonym_too_long, nothing recorded), and one auditor's count is read from the
 * pseudonym directory, or, when it lags, from at most `maxEntityEvents` events of the stream.
 */
const MAX_EVENTS = 8;
const LIMIT = 3;
const NODES = ['bounded-meter-1', 'bounded-meter-2', 'bounded-meter-3', 'bounded-meter-4', 'bounded-meter-5'] as const;

let svc: TestService;
const pseudonyms = new Map<string, string>();
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { maxEntityEvents: MAX_EVENTS, maxResolutionsPerPseudonym: LIMIT } } });
  for (const node of NODES) {
    const registered = await fetch(new URL('/v1/commands', svc.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body.registerNode(node)),
    });
    expect(registered.status).toBe(201);
  }
  await settled(svc);
  for await (const e of svc.service.context.credence.store.readAll()) {
    if (e.type === 'PseudonymRotated') pseudonyms.set(String(e.data['nodeId']), String(e.data['pseudonym']));
  }
  expect(pseudonyms.size).toBe(NODES.length);
}, 30_000);
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await svc?.close();
});

const pseudonymOf = (node: string): string => pseudonyms.get(node)!;
const store = () => svc.service.context.credence.store;

const auditor = async (subject: string): Promise<string> =>
  (await svc.service.context.access.issue({ subject, role: 'auditor', ttlSeconds: 3_600, issuedBy: 'test' })).token;

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const resolve = async (token: string, pseudonym: string, commandId: string = randomUUID()): Promise<Reply> => {
  const reply = await fetch(new URL('/v1/pseudonyms/resolutions', svc.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pseudonym, reason: 'case 2026-117', commandId }),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

const streamLength = async (pseudonym: string): Promise<number> => (await store().readStream(`pseudonym-${pseudonym}`)).length;

/** The options of every read of the pseudonym's stream made while it is spied on. */
const readsOf = (pseudonym: string): (ReadStreamOptions | undefined)[] => {
  const reads: (ReadStreamOptions | undefined)[] = [];
  const target = store();
  const original = target.readStream.bind(target);
  vi.spyOn(target, 'readStream').mockImplementation((streamId, options) => {
    if (streamId === `pseudonym-${pseudonym}`) reads.push(options);
    return original(streamId, options);
  });
  return reads;
};

/** Fills the pseudonym's stream to MAX_EVENTS with one resolution by each of as many auditors; answers the last. */
const fill = async (pseudonym: string, prefix: string): Promise<{ token: string; commandId: string; answer: Reply }> => {
  let last: { token: string; commandId: string; answer: Reply } | undefined;
  for (let i = (await streamLength(pseudonym)); i < MAX_EVENTS; i++) {
    const token = await auditor(`${prefix}-${i}`);
    const commandId = randomUUID();
    const answer = await resolve(token, pseudonym, commandId);
    expect(answer.status).toBe(200);
    last = { token, commandId, answer };
  }
  expect(await streamLength(pseudonym)).toBe(MAX_EVENTS);
  return last!;
};

describe("a pseudonym's stream is bounded across auditors", () => {
  it('refuses any auditor a resolution once the stream holds maxEntityEvents events (409 pseudonym_too_long), recording nothing', async () => {
    const pseudonym = pseudonymOf(NODES[0]);
    const { token: earlier } = await fill(pseudonym, 'filler');
    const head = await store().headPosition();

    for (const token of [await auditor('newcomer'), earlier]) {
      const refused = await resolve(token, pseudonym);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({
        status: 409,
        type: expect.stringMatching(/pseudonym_too_long$/),
        streamId: `pseudonym-${pseudonym}`,
        events: MAX_EVENTS,
        maxEvents: MAX_EVENTS,
        detail: expect.stringContaining(`GET /v1/entities/pseudonym/${pseudonym}`),
      });
    }
    expect(await store().headPosition()).toBe(head);
    expect(await streamLength(pseudonym)).toBe(MAX_EVENTS);

    // As the refusal says: an auditor who resolved it before still reads its node.
    const entity = await fetch(new URL(`/v1/entities/pseudonym/${pseudonym}`, svc.url), { headers: { authorization: `Bearer ${earlier}` } });
    expect(entity.status).toBe(200);
    expect(((await entity.json()) as { context: Record<string, unknown> }).context).toMatchObject({ nodeId: NODES[0] });
  });

  it('holds under concurrent resolutions by as many auditors: the stream ends at exactly maxEntityEvents', async () => {
    const pseudonym = pseudonymOf(NODES[1]);
    const room = MAX_EVENTS - (await streamLength(pseudonym));
    const tokens = await Promise.all(Array.from({ length: room + 5 }, (_, i) => auditor(`crowd-${i}`)));
    const replies = await Promise.all(tokens.map((token) => resolve(token, pseudonym)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(room);
    expect(replies.filter((r) => r.status === 409).map((r) => r.body['type'])).toEqual(Array(5).fill(expect.stringMatching(/pseudonym_too_long$/)));
    expect(await streamLength(pseudonym)).toBe(MAX_EVENTS);
  });

  it('still answers a retried commandId of a full stream with the first resolution, recording nothing', async () => {
    const pseudonym = pseudonymOf(NODES[2]);
    const last = await fill(pseudonym, 'retrier');
    expect((await resolve(last.token, pseudonym)).status).toBe(409);
    const head = await store().headPosition();

    const retried = await resolve(last.token, pseudonym, last.commandId);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(last.answer.body);
    expect(await store().headPosition()).toBe(head);
  });
});

describe("one auditor's resolutions of a pseudonym", () => {
  it('are counted from the caught-up directory, not on the stream', async () => {
    const pseudonym = pseudonymOf(NODES[3]);
    const token = await auditor('counted');
    const ids = Array.from({ length: LIMIT }, () => randomUUID());
    const answers: Reply[] = [];
    for (const id of ids) answers.push(await resolve(token, pseudonym, id));
    expect(answers.map((a) => a.status)).toEqual(Array(LIMIT).fill(200));

    const reads = readsOf(pseudonym);
    const head = await store().headPosition();
    const refused = await resolve(token, pseudonym);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ type: expect.stringMatching(/resolution_limit$/), limit: LIMIT });
    expect(await store().headPosition()).toBe(head);

    // A retry of the last at the limit answers the first; another auditor has room of their own.
    const retried = await resolve(token, pseudonym, ids[LIMIT - 1]);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(answers[LIMIT - 1]!.body);
    expect((await resolve(await auditor('counted-other'), pseudonym)).status).toBe(200);

    // A count on the stream reads it from its start; the directory's count reads none of it.
    const counting = reads.filter((options) => (options?.fromRevision ?? 0n) === 0n && (options?.maxCount ?? Infinity) > 1);
    expect(counting).toEqual([]);
  });

  it('are counted on at most maxEntityEvents events of the stream when the directory lags, and still bounded', async () => {
    vi.spyOn(svc.service.context.live, 'caughtUp').mockResolvedValue(false);
    const pseudonym = pseudonymOf(NODES[4]);
    const token = await auditor('counted-lagging');
    const reads = readsOf(pseudonym);
    for (let i = 0; i < LIMIT; i++) expect((await resolve(token, pseudonym)).status).toBe(200);
    const refused = await resolve(token, pseudonym);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ type: expect.stringMatching(/resolution_limit$/), limit: LIMIT });

    const fromStart = reads.filter((options) => (options?.fromRevision ?? 0n) === 0n);
    expect(fromStart.length).toBeGreaterThan(0);
    for (const options of fromStart) expect(options?.maxCount).toBeLessThanOrEqual(MAX_EVENTS);
  });
});
