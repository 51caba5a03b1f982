import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { main } from '../bin/cli.ts';
import { subscriptionServes } from '../bin/commands/node-enrol-unchanged.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Review 355: a rerun of `credence node enrol` read only the node (its state, subscription and CSE-ID) before saying
 * "already enrolled … nothing sent" and exiting 0. Once its subscription had ended (past its notAfter, the expiry not
 * yet recorded; or terminated, its cascade pending or dead-lettered) the server would refuse the enrolment (409,
 * subscriptionActive), and the script was told all was well. The CLI now also reads the subscription and skips only
 * while it serves (active, within its validity window, further from its end than the clocks may differ); else
 * the command is sent and the server judges.
 *
 * The server's clock is a FakeClock the test moves; the CLI's is the wall clock. Started two hours back, the server's
 * clock reads the wall clock's time once moved on by two hours, as the two would agree in a deployment.
 */
const HOUR = 3_600_000;

describe('credence node enrol again under a subscription that has ended (review 355)', () => {
  const start = Date.now() - 2 * HOUR;
  const clock = new FakeClock(new Date(start));
  let svc: TestService;
  beforeAll(async () => {
    // An hourly tick: the scheduler does not record the expiry before the rerun.
    svc = await startTestService({ clock, config: { tickMs: 3_600_000 } });
  });
  afterAll(async () => {
    await svc?.close();
  });
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  const enrolments = async () =>
    (await svc.service.context.credence.store.readStream('node-meter-1')).filter((e) => e.type === 'NodeEnrolled').length;

  it('past the notAfter, the expiry not yet recorded: sends the command, and exits 1 with the server refusal', async () => {
    for (const argv of [
      ['subscription', 'create', 'city', '--subscriber', 'City Utilities', '--not-before', new Date(start).toISOString(), '--not-after', new Date(start + HOUR).toISOString()],
      ['node', 'register', 'meter-1', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10'],
      ['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse'],
    ]) {
      const r = await cli(argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
    }
    clock.advance(2 * HOUR);
    const again = await cli(['node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse']);
    expect(again.out).not.toContain('nothing sent');
    expect(again.code, again.out).toBe(1);
    expect(again.err).toMatch(/^refused: .*\(409\)/m);
    expect(again.err).toContain('subscriptionActive');
    expect(await enrolments()).toBe(1);
    // Still active: the scheduler has not recorded the expiry.
    expect((await svc.service.context.credence.engine.entity('subscription', 'city')).snapshot.value).toBe('active');
  });
});

describe('what node enrol reads as a subscription that serves', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const sub = (over: Record<string, unknown> = {}, context: Record<string, unknown> = {}) => ({
    streamId: 'subscription-city', kind: 'subscription', id: 'city', state: 'active', revision: '0', position: '1',
    context: { subscriptionId: 'city', subscriber: 'City', notBefore: now - 30 * 86_400_000, notAfter: now + 30 * 86_400_000, ...context }, ...over,
  });

  it('an active one well within its validity window', () => {
    expect(subscriptionServes(sub(), now)).toBe(true);
  });

  it('not one expired or terminated, past or near its notAfter, before its notBefore, broken, or of another shape', () => {
    for (const state of ['expired', 'revoked', 'absent']) expect(subscriptionServes(sub({ state }), now), state).toBe(false);
    expect(subscriptionServes(sub({}, { notAfter: now }), now)).toBe(false);
    expect(subscriptionServes(sub({}, { notAfter: now - 1 }), now)).toBe(false);
    // Within the window by this clock, but close enough to its end that the server's may read it past.
    expect(subscriptionServes(sub({}, { notAfter: now + 60_000 }), now)).toBe(false);
    expect(subscriptionServes(sub({}, { notAfter: now + 300_000 }), now)).toBe(false);
    expect(subscriptionServes(sub({}, { notAfter: now + 300_001 }), now)).toBe(true);
    expect(subscriptionServes(sub({}, { notBefore: now + 1 }), now)).toBe(false);
    // The node was enrolled under it: the server's clock has passed its notBefore already.
    expect(subscriptionServes(sub({}, { notBefore: now }), now)).toBe(true);
    expect(subscriptionServes(sub({ broken: { reason: 'refused by rule x' } }), now)).toBe(false);
    expect(subscriptionServes(sub({}, { notAfter: '2026-07-01T00:00:00Z' }), now)).toBe(false);
    expect(subscriptionServes(undefined, now)).toBe(false);
  });
});
