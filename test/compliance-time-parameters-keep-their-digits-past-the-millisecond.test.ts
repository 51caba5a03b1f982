import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { ComplianceQueryName } from '../projections/compliance/index.ts';
import { askCompliance } from './support/compliance-ask.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

/*
 * Review 155: `from`, `to` and `now` were read by Date, which keeps whole milliseconds, so the digits past the third
 * were cut and a window's edge moved back: for an event at 2026-01-04T00:00:00.000Z, from=…00.000500Z took it in,
 * to=…00.000500Z left it out, and from=…00.0001Z&to=…00.0009Z was refused as a window holding no instant. They are
 * taken to every digit, as the API takes instants elsewhere: a window [from, to) holds what lies in it. (Review 232:
 * that last window is refused again, saying what is so, that it holds no whole millisecond, the instants events are at.)
 */

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const ask = (c: Credence, name: ComplianceQueryName, params: Record<string, string>) => {
  const asked = askCompliance(c, name, params, new Date(T0));
  if (!asked.ok) return { refused: asked.issues.map((i) => i.path.join('.')) };
  return { rows: asked.rows.length };
};

describe('compliance time parameters keep their digits past the millisecond', () => {
  it('a window edge at x.000500 neither takes in nor leaves out an event at x.000 by mistake', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    for (const x of [cmd.createSubscription(), cmd.registerNode()]) await c.engine.execute(x);
    clock.set(at(3));
    expect(at(3)).toBe('2026-01-04T00:00:00.000Z');
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'keyCompromise' }, { actor: operator }));
    await c.settle();

    for (const name of ['revocations', 'actions'] as const) {
      const actor: Record<string, string> = name === 'actions' ? { actor: operator.id } : {};
      const base = name === 'actions' ? 2 : 0;
      // Sanity: the window of the whole millisecond holds it.
      expect(ask(c, name, { ...actor, from: '2026-01-04T00:00:00.000Z', to: '2026-01-04T00:00:00.001Z' }), name).toEqual({ rows: 1 });
      expect(ask(c, name, { ...actor, from: '2026-01-04T00:00:00.000500Z' }), name).toEqual({ rows: 0 });
      expect(ask(c, name, { ...actor, from: '2026-01-04T00:00:00.000000001Z' }), name).toEqual({ rows: 0 });
      expect(ask(c, name, { ...actor, to: '2026-01-04T00:00:00.000500Z' }), name).toEqual({ rows: base + 1 });
      // A window holding instants but no whole millisecond, the instants events are at, is refused too (review 232).
      expect(ask(c, name, { ...actor, from: '2026-01-04T00:00:00.0001Z', to: '2026-01-04T00:00:00.0009Z' }), name).toEqual({ refused: ['to'] });
      // A window that holds no instant is still refused, to every digit.
      expect(ask(c, name, { ...actor, from: '2026-01-04T00:00:00.0009Z', to: '2026-01-04T00:00:00.0001Z' }), name).toEqual({ refused: ['to'] });
      expect(ask(c, name, { ...actor, from: '2026-01-04T00:00:00.00050Z', to: '2026-01-04T00:00:00.0005Z' }), name).toEqual({ refused: ['to'] });
    }
  });

  it('expiring: a notAfter at x + days is within the days after now = x.000500', async () => {
    const c = (credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) }));
    for (const x of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(), cmd.issueCredential('cred-1', 'meter-1', at(90))]) await c.engine.execute(x);
    await c.settle();
    const notAfter = Date.parse(at(90));
    const iso = (ms: number, past = '') => new Date(ms).toISOString().replace('Z', `${past}Z`);
    expect(ask(c, 'expiring', { days: '1', now: iso(notAfter - 86_400_000, '500') })).toEqual({ rows: 1 });
    expect(ask(c, 'expiring', { days: '1', now: iso(notAfter - 86_400_000) })).toEqual({ rows: 0 });
    // Lower edge: after now = notAfter - 1 ms + 0.5 ms, not after now = notAfter + 0.5 ms.
    expect(ask(c, 'expiring', { days: '1', now: iso(notAfter - 1, '500') })).toEqual({ rows: 1 });
    expect(ask(c, 'expiring', { days: '1', now: iso(notAfter, '500') })).toEqual({ rows: 0 });
  });
});
