import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeEvents } from '../adapters/client/sse.ts';
import { ProblemResponse } from '../adapters/client/http.ts';
import { openStream } from './http-sse.fixtures.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 185, finding 1: an event stream's id was its position alone, so the Last-Event-ID (or `after`) of another
 * log at or below this one's head was taken as this log's: service A had 3 events, B had 10, and B resumed after A's
 * id 3 and delivered from 4, skipping B's first three events without a word (a re-created data folder, a second
 * instance, a client pointed at the wrong server). An id now names its event too (`<position>~<tag>`); one whose
 * event this log does not hold at that position is refused, 409 resume_point_not_in_log. A bare position is still
 * taken as it comes (what users type, and what earlier versions handed out).
 */

let a: TestService;
let b: TestService;
let bHead: bigint;
let scopedToken: string;

const registerNodes = async (svc: TestService, prefix: string, count: number): Promise<bigint> => {
  const credence = svc.service.context.credence;
  for (let n = 1; n <= count; n++) await credence.engine.execute(cmd.registerNode(`${prefix}-${n}`));
  await credence.settle();
  return (await credence.store.headPosition())!;
};

/** The ids a stream from the start sends, up to its `nodes`-th node registration. */
const idsOf = async (svc: TestService, token: string, path: string, nodes: number): Promise<string[]> => {
  const stream = await openStream(svc.url, token, path);
  try {
    await stream.until(() => stream.events().filter((e) => e.event === 'NodeRegistered').length >= nodes, `${nodes} registrations`);
    return stream.events().map((e) => e.id);
  } finally {
    stream.close();
  }
};

const positionOf = (id: string): bigint => BigInt(id.split('~')[0]!);

beforeAll(async () => {
  [a, b] = await Promise.all([startTestService(), startTestService()]);
  await registerNodes(a, 'meter-a', 3);
  await b.service.context.credence.engine.execute(cmd.createSubscription('sub-01', '2030-01-01T00:00:00.000Z'));
  bHead = await registerNodes(b, 'meter-b', 10);
  const issued = await fetch(`${b.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${b.tokens.admin}` },
    body: JSON.stringify({ subject: 'city-01', role: 'integrator', ttl: '1h', scope: { subscriptions: ['sub-01'] } }),
  });
  scopedToken = issued.status === 201 ? ((await issued.json()) as { token: string }).token : '';
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe.each([
  ['auditor', 'canonical', '/v1/events'],
  ['integrator', 'pseudonymised', '/v1/events?kind=node'],
] as const)('the %s (%s stream)', (role, _which, path) => {
  let fromA: string;
  let ownId: string;
  beforeAll(async () => {
    const idsA = await idsOf(a, a.tokens[role], path, 3);
    fromA = idsA.filter((id) => positionOf(id) <= bHead).at(-1)!;
    const idsB = await idsOf(b, b.tokens[role], path, 10);
    ownId = idsB.find((id) => positionOf(id) === positionOf(fromA)) ?? idsB[0]!;
  }, 60_000);

  it('is sent ids that name their event as well as its position', () => {
    expect(fromA).toMatch(/^[1-9][0-9]*~[0-9a-f]{8}$/);
    expect(ownId).toMatch(/^[1-9][0-9]*~[0-9a-f]{8}$/);
  });

  it('is refused another log\'s id at a position this log holds (409), by header or by query, instead of resuming after it', async () => {
    for (const [url, headers] of [
      [path, { 'last-event-id': fromA }],
      [`${path}${path.includes('?') ? '&' : '?'}after=${encodeURIComponent(fromA)}`, {}],
    ] as const) {
      const stream = await openStream(b.url, b.tokens[role], url, headers);
      stream.close();
      expect(stream.status).toBe(409);
      expect(stream.problem).toMatchObject({ type: expect.stringMatching(/resume_point_not_in_log$/), resumeAfter: positionOf(fromA).toString(10) });
      expect(String(stream.problem!['detail'])).toContain('another log');
    }
  });

  it('resumes after its own id, and after a bare position, as before', async () => {
    for (const id of [ownId, positionOf(ownId).toString(10)]) {
      const stream = await openStream(b.url, b.tokens[role], path, { 'last-event-id': id });
      try {
        expect(stream.status).toBe(200);
      } finally {
        stream.close();
      }
    }
  });

  it('is refused by the client library too, which sends the id back as received', async () => {
    const events = subscribeEvents(b.url, { path, token: b.tokens[role], lastEventId: fromA, reconnect: false });
    const refusal = await events.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ProblemResponse);
    expect((refusal as ProblemResponse).status).toBe(409);
  });
});

describe('a scoped integrator', () => {
  it('is refused another log\'s id without being told the head', async () => {
    expect(scopedToken).not.toBe('');
    const fromA = (await idsOf(a, a.tokens.integrator, '/v1/events?kind=node', 3)).at(-1)!;
    const stream = await openStream(b.url, scopedToken, '/v1/events?kind=node', { 'last-event-id': fromA });
    stream.close();
    expect(stream.status).toBe(409);
    expect(stream.problem).not.toHaveProperty('head');
    expect(String(stream.problem!['detail'])).not.toMatch(new RegExp(`\\b${bHead}\\b`));
  });
});

describe("the pseudonymised stream's tags", () => {
  it('are keyed: not the canonical stream\'s plain hash of the event id, which an integrator may not test guesses against', async () => {
    const canonical = await idsOf(b, b.tokens.auditor, '/v1/events?kind=node', 10);
    const pseudonymised = await idsOf(b, b.tokens.integrator, '/v1/events?kind=node', 10);
    const shared = pseudonymised.find((id) => canonical.some((c) => positionOf(c) === positionOf(id)))!;
    const plain = canonical.find((c) => positionOf(c) === positionOf(shared))!;
    expect(shared).not.toBe(plain);
    // An integrator is refused the plain tag of an event it was sent; an auditor, who reads event ids, may resume either
    // form's id.
    const refused = await openStream(b.url, b.tokens.integrator, '/v1/events?kind=node', { 'last-event-id': plain });
    refused.close();
    expect(refused.status).toBe(409);
    for (const id of [plain, shared]) {
      const stream = await openStream(b.url, b.tokens.auditor, '/v1/events?kind=node', { 'last-event-id': id });
      stream.close();
      expect(stream.status).toBe(200);
    }
  });
});
