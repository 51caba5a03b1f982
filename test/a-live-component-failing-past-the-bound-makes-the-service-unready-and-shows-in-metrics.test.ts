/**
 * Review 144 (F3): a live component whose every attempt failed was seen at GET /v1/projections only (a token needed):
 * with the expiry tick always throwing, /readyz said 200 and its lag 0; with the cascade failing, revocations quietly
 * stopped propagating until 1,000 events piled up. `credence_component_failing` now says it, and /readyz answers 503
 * `component` once one has been failing for `limits.readyMaxFailingMs`.
 */
import { describe, expect, it } from 'vitest';
import { postCommand } from './support/console-fleet.ts';
import { useTestService, type TestService } from './support/service.ts';

const DAY = 86_400_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

const scrape = async (svc: TestService): Promise<string> => (await fetch(`${svc.url}/metrics`)).text();
const failingGauge = async (svc: TestService, component: string): Promise<string | undefined> =>
  new RegExp(`^credence_component_failing\\{component="${component}"\\} (\\d+)$`, 'm').exec(await scrape(svc))?.[1];
const readyz = async (svc: TestService): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(`${svc.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const POLL = { timeout: 15_000, interval: 50 };

describe('a live component failing past readyMaxFailingMs', () => {
  // 0: unready at a component's first failure, so no test waits out a bound.
  const svc = useTestService({ config: { limits: { readyMaxFailingMs: 0 } } });

  it('the expiry tick always throwing: credence_component_failing 1, /readyz 503 naming expiry; ready again once a tick goes through', async () => {
    expect(await failingGauge(svc, 'expiry')).toBe('0');
    const { scheduler } = svc.service.context.credence;
    const tick = scheduler.tick;
    scheduler.tick = () => Promise.reject(new Error('expiry broke'));
    try {
      await expect.poll(() => failingGauge(svc, 'expiry'), POLL).toBe('1');
      const answer = await readyz(svc);
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'component', component: 'expiry' });
      expect(JSON.stringify(answer.body)).not.toContain('expiry broke');
    } finally {
      scheduler.tick = tick;
    }
    await expect.poll(() => failingGauge(svc, 'expiry'), POLL).toBe('0');
    expect((await readyz(svc)).status).toBe(200);
  });

  it('the cascade always throwing: /readyz 503 naming cascade once an event reaches it, whatever the lag', async () => {
    const { runner } = svc.service.context.credence;
    const { handle, catchUp } = runner;
    runner.handle = (name, ...rest) => (name === 'cascade' ? Promise.reject(new Error('cascade broke')) : handle.call(runner, name, ...rest));
    runner.catchUp = (name) => (name === 'cascade' ? Promise.reject(new Error('cascade broke')) : catchUp.call(runner, name));
    try {
      await postCommand(svc, 'createSubscription', { subscriptionId: 'sub-f3', subscriber: 'City Utilities', notBefore: iso(-DAY), notAfter: iso(365 * DAY) });
      await expect.poll(async () => (await readyz(svc)).body['component'], POLL).toBe('cascade');
      const answer = await readyz(svc);
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ check: 'component', component: 'cascade' });
      expect(await failingGauge(svc, 'cascade')).toBe('1');
    } finally {
      runner.handle = handle;
      runner.catchUp = catchUp;
    }
    await expect.poll(async () => (await readyz(svc)).status, POLL).toBe(200);
    expect(await failingGauge(svc, 'cascade')).toBe('0');
  });
});

describe('a live component failing for less than readyMaxFailingMs (default 60 s)', () => {
  const svc = useTestService();

  it('shows in credence_component_failing, and /readyz stays 200: one failed attempt does not flip readiness', async () => {
    const { scheduler } = svc.service.context.credence;
    const tick = scheduler.tick;
    scheduler.tick = () => Promise.reject(new Error('expiry broke'));
    try {
      await expect.poll(() => failingGauge(svc, 'expiry'), POLL).toBe('1');
      expect((await readyz(svc)).status).toBe(200);
      expect(await scrape(svc)).toMatch(/^credence_component_failing_seconds\{component="expiry"\} \d/m);
    } finally {
      scheduler.tick = tick;
    }
  });
});
