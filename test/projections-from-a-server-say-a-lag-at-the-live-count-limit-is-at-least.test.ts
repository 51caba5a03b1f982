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
