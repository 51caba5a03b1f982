import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import type { ComplianceQueryName } from '../projections/compliance/index.ts';
import { askCompliance } from './support/compliance-ask.ts';
import { at, cmd, T0 } from './support/fleet.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 232: two refusals of the compliance catalog named zod's `custom` as their rule, not one of their own: a window
 * [from, to) whose `to` is not later than its `from`, and `after` with `order=newest`. And windows went wrong at their
 * edges: `expiring`'s top edge was `now + days` rounded to the nearest millisecond, so a notAfter just inside it was
 * left out when it rounded down (notAfter 1000 ms after now, days=0.000011575, the end at 1000.08 ms); and a window
 * holding no whole millisecond, the instants events and notAfters are recorded at (`days=0`, `days=0.000000001`,
 * `from=…00.0001Z&to=…00.0009Z`), answered an all-clear with no rows. Each such window is refused now, by the rule
 * `empty_window`, naming the parameter that empties it.
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** Rows answered, or the refusal's issues as [path, rule] (a catalog rule in `params.rule`, else zod's code). */
const ask = (c: Credence, name: ComplianceQueryName, params: Record<string, string>) => {
  const asked = askCompliance(c, name, params, new Date(T0));
  if (!asked.ok) return { refused: asked.issues.map((i) => [i.path.join('.'), i.code === 'custom' ? i.params?.['rule'] : i.code]) };
  return { rows: asked.rows.map((r) => (r as { credentialId?: string }).credentialId) };
};

describe('compliance windows hold their whole milliseconds, or are refused by a named rule', () => {
  const svc = useTestService();
  const get = async (query: string, params: Record<string, string>) => {
    const reply = await fetch(`${svc.url}/v1/compliance/${query}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    return { status: reply.status, body: (await reply.json()) as { errors?: { path: string; rule: string; message: string }[] } };
  };

  it('HTTP: a reversed window and `after` with order=newest each name a rule of their own', async () => {
    for (const query of ['revocations', 'actions']) {
      const refused = await get(query, { ...(query === 'actions' ? { actor: 'test-operator' } : {}), from: '2026-01-02', to: '2026-01-01' });
      expect(refused.status, query).toBe(400);
      expect(refused.body.errors, query).toEqual([{ path: 'query.to', rule: 'empty_window', message: 'must be later than `from`: the window [from, to) holds no instant' }]);
    }
    const newest = await get('revocations', { order: 'newest', after: '1' });
    expect(newest.status).toBe(400);
    expect(newest.body.errors).toEqual([{ path: 'query.after', rule: 'after_with_order_newest', message: 'pages in log order: not with order=newest' }]);
  });

  it('HTTP: a window holding no whole millisecond is refused by the same rule, naming the parameter that empties it', async () => {
    for (const query of ['revocations', 'actions']) {
      const refused = await get(query, { ...(query === 'actions' ? { actor: 'test-operator' } : {}), from: '2026-01-04T00:00:00.0001Z', to: '2026-01-04T00:00:00.0009Z' });
      expect(refused.status, query).toBe(400);
      expect(refused.body.errors, query).toEqual([expect.objectContaining({ path: 'query.to', rule: 'empty_window' })]);
    }
    for (const days of ['0.000000001', '0.00000001']) {
      const refused = await get('expiring', { days });
      expect(refused.status, days).toBe(400);
      expect(refused.body.errors, days).toEqual([expect.objectContaining({ path: 'query.days', rule: 'empty_window' })]);
    }
    const none = await get('expiring', { days: '0' });
    expect(none.status).toBe(400);
    // 0 days the document refuses too (exclusiveMinimum), by zod's rule, once.
    expect(none.body.errors).toEqual([{ path: 'query.days', rule: 'too_small', message: 'a number of days above 0, e.g. 30: a window of 0 days holds no instant' }]);
    // The smallest windows that hold one are answered.
    expect((await get('expiring', { days: '0.000000012' })).status).toBe(200);
    expect((await get('revocations', { from: '2026-01-04T00:00:00.0001Z', to: '2026-01-04T00:00:00.0010001Z' })).status).toBe(200);
  });

  it('expiring: a notAfter inside the window is listed however close to its top edge (the top no longer rounded down)', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1', 'meter-1', at(90))]) await c.engine.execute(x);
    await c.settle();
    const notAfter = Date.parse(at(90));
    const now = new Date(notAfter - 1000).toISOString();
    // 1 day = 86,400,000 ms: these end at 1000.08 ms, 1000.4256 ms and 1000.0008 ms (now + 1000.0008 at now = x.0005).
    expect(ask(c, 'expiring', { days: '0.000011575', now })).toEqual({ rows: ['cred-1'] });
    expect(ask(c, 'expiring', { days: '0.000011579', now })).toEqual({ rows: ['cred-1'] });
    // Ending at 999.9936 ms, or at exactly 1000 ms (the window is open at its top), it is not inside.
    expect(ask(c, 'expiring', { days: '0.000011574', now })).toEqual({ rows: [] });
    expect(ask(c, 'expiring', { days: '1', now: new Date(notAfter - 86_400_000).toISOString() })).toEqual({ rows: [] });
    // Past its millisecond, `now` moves the top edge with it: x.0005 + 999.9936 ms ends past x + 1000, x.0005 + 999.4752 ms before it.
    expect(ask(c, 'expiring', { days: '0.000011574', now: now.replace('Z', '500Z') })).toEqual({ rows: ['cred-1'] });
    expect(ask(c, 'expiring', { days: '0.000011568', now: now.replace('Z', '500Z') })).toEqual({ rows: [] });
  });

  it('expiring: days whose window holds no whole millisecond are refused, given `now` past its millisecond too', () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    expect(ask(c, 'expiring', { days: '0.00000001' })).toEqual({ refused: [['days', 'empty_window']] });
    // From x.9, 0.000000001 days (0.0864 ms) ends before x + 1; 0.00000001 days (0.864 ms) past it, holding x + 1.
    expect(ask(c, 'expiring', { days: '0.000000001', now: '2026-01-01T00:00:00.0009Z' })).toEqual({ refused: [['days', 'empty_window']] });
    expect(ask(c, 'expiring', { days: '0.00000001', now: '2026-01-01T00:00:00.0009Z' })).toEqual({ rows: [] });
  });
});
