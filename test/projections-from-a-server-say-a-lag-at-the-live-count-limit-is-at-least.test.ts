/**
 * Review 398's follow-up: a running service counts each component's lag up to LAG_COUNT_LIMIT (100,000: the live
 * tracker keeps no more positions, the start's backlog reads no further) and `GET /v1/projections` answered the capped
 * number as exact, as did `credence projections --server`. The live lag now says a count at that limit is at least it
 * (`eventsBehindAtLeast`), the route answers the member per component and on `lag` (declared in its schema), and the
 * CLI prints it as `N or more`.
 *
 * No 100,000 events are appended: the tracker is fed positions, and the route is asked of a live runtime whose status
 * says such a count.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LAG_COUNT_LIMIT, LagTracker, lagOf } from '../adapters/runtime/live-lag.ts';
import type { ComponentStatus } from '../adapters/runtime/index.ts';
import { runCli } from './support/cli.ts';
import { cmd } from './support/fleet.ts';
import { pastReadyBound } from '../adapters/http/routes/wire.ts';
import { warnReadModelRebuilds } from '../adapters/http/read-model-rebuilds.ts';
import type { FastifyBaseLogger } from 'fastify';
import type { ProjectionRunner } from '../projections/runtime/index.ts';
import { useTestService } from './support/service.ts';

describe('the live lag at its count limit', () => {
  it('is said at least once the tracker holds LAG_COUNT_LIMIT positions, exact below', () => {
    const tracker = new LagTracker();
    for (let p = 1; p < LAG_COUNT_LIMIT; p++) tracker.seen(BigInt(p), 1_000);
    const under = tracker.after(undefined);
    const exact = lagOf(under.count, under.oldest, 2_000);
    expect(exact.eventsBehind).toBe(LAG_COUNT_LIMIT - 1);
    expect(exact.eventsBehindAtLeast).toBeUndefined();
    // One more, and many more past it: the tracker stops at the limit, and so the lag is at least that.
    for (let p = LAG_COUNT_LIMIT; p < LAG_COUNT_LIMIT + 10; p++) tracker.seen(BigInt(p), 1_000);
    const full = tracker.after(undefined);
    expect(lagOf(full.count, full.oldest, 2_000)).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });
    // A start backlog and the live count together past it: capped, and at least.
    expect(lagOf(LAG_COUNT_LIMIT + 5, 1_000, 2_000)).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });
    expect(lagOf(0, undefined, 2_000).eventsBehindAtLeast).toBeUndefined();
  });

  /**
   * Review 416 (F1): once full, the tracker dropped what it did not keep, and a trim left it counting the kept tail only:
   * 1..300,000 seen, trimmed at 99,000, read 1,000 behind and exact (true lag 201,000), so /readyz said ready.
   */
  it('stays at least once full and trimmed, counting what it dropped, and exact again once all is handled', () => {
    const tracker = new LagTracker();
    for (let p = 1; p <= 3 * LAG_COUNT_LIMIT; p++) tracker.seen(BigInt(p), p <= LAG_COUNT_LIMIT ? 1_000 : 5_000);
    tracker.trim(99_000n);
    const trimmed = tracker.after(99_000n);
    expect(trimmed).toMatchObject({ count: 201_000, oldest: 1_000, atLeast: true });
    const lag = lagOf(trimmed.count, trimmed.oldest, 2_000, trimmed.atLeast === true);
    expect(lag).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });
    expect(pastReadyBound(lag, 1_000)).toBe(true);
    expect(pastReadyBound(lag, 200_000)).toBe(true);
    // Trimmed past every kept position, into what was dropped: still at least, from the first dropped one's arrival.
    tracker.trim(150_000n);
    expect(tracker.after(150_000n)).toMatchObject({ count: 150_000, oldest: 5_000, atLeast: true });
    const late = tracker.after(299_990n);
    expect(late).toMatchObject({ count: 10, atLeast: true });
    expect(lagOf(late.count, late.oldest, 6_000, late.atLeast === true).eventsBehindAtLeast).toBe(true);
    // Refilled while some of what it dropped is unhandled: those are counted too, never as exact.
    for (let p = 3 * LAG_COUNT_LIMIT + 1; p <= 3 * LAG_COUNT_LIMIT + 5; p++) tracker.seen(BigInt(p), 7_000);
    expect(tracker.after(150_000n)).toMatchObject({ count: 150_005, atLeast: true });
    expect(tracker.after(BigInt(3 * LAG_COUNT_LIMIT))).toMatchObject({ count: 5, atLeast: true });
    expect(tracker.after(BigInt(3 * LAG_COUNT_LIMIT + 5))).toEqual({ count: 0, oldest: undefined });
    // Everything handled by all: it keeps positions again, and counts them exactly.
    tracker.trim(BigInt(3 * LAG_COUNT_LIMIT + 5));
    for (let p = 3 * LAG_COUNT_LIMIT + 6; p <= 3 * LAG_COUNT_LIMIT + 15; p++) tracker.seen(BigInt(p), 8_000);
    const refilled = tracker.after(BigInt(3 * LAG_COUNT_LIMIT + 5));
    expect(refilled).toEqual({ count: 10, oldest: 8_000 });
    expect(lagOf(refilled.count, refilled.oldest, 9_000, refilled.atLeast === true)).toEqual({ eventsBehind: 10, secondsBehind: 1 });
  });
});

/** Review 416 (F4): the rebuild warning's message said "at least", its structured `events` field said nothing of it. */
describe('the rebuild warning at the count limit', () => {
  it('flags the structured count (eventsAtLeast) as its message words it, and only then', async () => {
    const warned: Array<[Record<string, unknown>, string]> = [];
    const log = { warn: (fields: Record<string, unknown>, message: string) => warned.push([fields, message]) } as unknown as FastifyBaseLogger;
    const runner = {
      checkLog: async () => [],
      checkRules: async () => [],
      schemaChanges: () => [
        { name: 'compliance', stored: 3, version: 4 },
        { name: 'audit', stored: 3, version: 4 },
      ],
      lag: async (name: string) =>
        name === 'compliance'
          ? { name, position: undefined, head: 0n, eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true }
          : { name, position: undefined, head: 0n, eventsBehind: 12 },
    } as unknown as ProjectionRunner;
    await warnReadModelRebuilds(runner, log);
    expect(warned).toHaveLength(2);
    expect(warned[0]![0]).toMatchObject({ projection: 'compliance', events: LAG_COUNT_LIMIT, eventsAtLeast: true });
    expect(warned[0]![1]).toContain(`at least ${LAG_COUNT_LIMIT} events`);
    expect(warned[1]![0]).toMatchObject({ projection: 'audit', events: 12 });
    expect(warned[1]![0]).not.toHaveProperty('eventsAtLeast');
  });
});

describe('GET /v1/projections and credence projections --server at the live count limit', () => {
  const svc = useTestService();
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** The service's status with its audit trail counted to the limit (as the live runtime says it). */
  const auditAtTheLimit = () => {
    const live = svc.service.context.live;
    const real = live.status.bind(live);
    vi.spyOn(live, 'status').mockImplementation(async () =>
      (await real()).map((c): ComponentStatus => (c.name === 'audit' ? { ...c, eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true } as ComponentStatus : c)),
    );
    vi.spyOn(live, 'lag').mockReturnValue({ eventsBehind: LAG_COUNT_LIMIT, secondsBehind: 3 });
  };

  it('answers eventsBehindAtLeast on the component and on lag, and the CLI says that many or more', async () => {
    auditAtTheLimit();
    const response = await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { components: Array<Record<string, unknown>>; lag: Record<string, unknown> };
    expect(body.components.find((c) => c['name'] === 'audit')).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });
    for (const c of body.components.filter((c) => c['name'] !== 'audit')) expect(c['eventsBehindAtLeast'], String(c['name'])).toBeUndefined();
    expect(body.lag).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });

    const text = await runCli(['projections', '--server', svc.url, '--token', svc.tokens.operator]);
    expect(text.code, text.err).toBe(0);
    const rows = text.out.split('\n');
    expect(rows.find((l) => l.startsWith('audit '))).toMatch(new RegExp(` ${LAG_COUNT_LIMIT} or more +\\d+$`));
    expect(rows.filter((l) => / or more /.test(l) && !l.startsWith('live:'))).toHaveLength(1);
    expect(text.out).toContain(`live: ${LAG_COUNT_LIMIT} or more events, 3 seconds behind at most`);

    const json = await runCli(['projections', '--server', svc.url, '--token', svc.tokens.operator, '--json']);
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ lag: { eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true } });
  });

  it('answers an exact count with no such member', async () => {
    const response = await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    const body = (await response.json()) as { components: Array<Record<string, unknown>>; lag: Record<string, unknown> };
    for (const c of body.components) expect(c['eventsBehindAtLeast'], String(c['name'])).toBeUndefined();
    expect(body.lag['eventsBehindAtLeast']).toBeUndefined();
    expect((await runCli(['projections', '--server', svc.url, '--token', svc.tokens.operator])).out).not.toContain('or more');
  });
});

/**
 * Review 413 (2): the at-least flag reached GET /v1/projections only. A compliance answer said the capped count as
 * exact (its `credence-events-behind` header and body, and `credence query --server`), /readyz could never be not
 * ready for lag with `readyMaxLagEvents` at the limit, and the rebuild log judged the count against the limit. The
 * live lag is mocked at the limit, said at least, with no read model caught up.
 */
describe('compliance answers and /readyz at the live count limit', () => {
  const svc = useTestService({ config: { limits: { readyMaxLagEvents: LAG_COUNT_LIMIT } } });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const atTheLimit = () => {
    const live = svc.service.context.live;
    vi.spyOn(live, 'lag').mockReturnValue({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true, secondsBehind: 3 } as ReturnType<typeof live.lag>);
    vi.spyOn(live, 'caughtUp').mockResolvedValue(false);
  };
  const get = (path: string, accept = 'application/json') =>
    fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}`, accept } });

  it('flags the header and body of a compliance answer, JSON and CSV, and credence query --server says "or more"', async () => {
    // An event stored, so that `revocations` waits for the cascade past the head (and says the lag from there).
    const { type, data } = cmd.createSubscription();
    const seeded = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type, data }),
    });
    expect(seeded.status).toBe(201);
    atTheLimit();
    // `actions` reads the read models only; `revocations` waits for the cascade's work too (compliance-behind.ts).
    for (const query of ['actions?actor=nobody', 'revocations']) {
      const response = await get(`/v1/compliance/${query}`);
      expect(response.status, query).toBe(200);
      expect(response.headers.get('credence-events-behind'), query).toBe(String(LAG_COUNT_LIMIT));
      expect(response.headers.get('credence-events-behind-at-least'), query).toBe('true');
      expect(await response.json(), query).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });
      const csv = await get(`/v1/compliance/${query}`, 'text/csv');
      expect(csv.headers.get('credence-events-behind-at-least'), query).toBe('true');
      await csv.text();
    }
    const text = await runCli(['query', 'actions', '--actor', 'nobody', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(text.code, text.err).toBe(0);
    expect(text.err).toContain(`were ${LAG_COUNT_LIMIT} or more event(s) behind its store`);
    const csv = await runCli(['query', 'actions', '--actor', 'nobody', '--csv', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(csv.code, csv.err).toBe(0);
    expect(csv.err).toContain(`were ${LAG_COUNT_LIMIT} or more event(s) behind its store`);
    const json = await runCli(['query', 'actions', '--actor', 'nobody', '--json', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true });
  });

  it('is not ready with readyMaxLagEvents at the limit, and ready with the same count said exact', async () => {
    const live = svc.service.context.live;
    vi.spyOn(live, 'lag').mockReturnValue({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true, secondsBehind: 3 } as ReturnType<typeof live.lag>);
    const refused = await fetch(`${svc.url}/readyz`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({
      check: 'lag',
      eventsBehind: LAG_COUNT_LIMIT,
      eventsBehindAtLeast: true,
      detail: `live projections are ${LAG_COUNT_LIMIT} or more events behind (bound ${LAG_COUNT_LIMIT})`,
    });
    vi.spyOn(live, 'lag').mockReturnValue({ eventsBehind: LAG_COUNT_LIMIT, secondsBehind: 3 });
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
    // A bound above the limit cannot be told passed or not by a count stopped there: past it all the same.
    expect(pastReadyBound({ eventsBehind: LAG_COUNT_LIMIT, eventsBehindAtLeast: true }, 10 * LAG_COUNT_LIMIT)).toBe(true);
    // Under its bound, a count said at least below the limit (a start backlog's read passing records over) is not.
    expect(pastReadyBound({ eventsBehind: 50, eventsBehindAtLeast: true }, 1_000)).toBe(false);
    expect(pastReadyBound({ eventsBehind: 1_000, eventsBehindAtLeast: true }, 1_000)).toBe(true);
    expect(pastReadyBound({ eventsBehind: 1_000 }, 1_000)).toBe(false);
  });

  it('answers an exact count with no at-least header or member', async () => {
    const response = await get('/v1/compliance/actions?actor=nobody');
    expect(response.headers.get('credence-events-behind-at-least')).toBeNull();
    expect((await response.json()) as Record<string, unknown>).not.toHaveProperty('eventsBehindAtLeast');
  });
});
