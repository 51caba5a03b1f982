import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

/**
 * `credence state <stream>` and `GET /v1/entities/{kind}/{id}/state` without an instant read the entity now: the
 * remedies of the upgrading notes ask for its state "now", and a required `--at` made every operator type the time.
 * Through the service, "now" is the service's clock (its scheduler's), not the terminal's.
 */
describe('state without an instant', () => {
  let svc: TestService;
  const serviceNow = new Date('2025-06-01T12:00:00.000Z');
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: {} });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  const operate = async (...argv: string[]) => {
    const r = await cli([...argv, '--server', svc.url, '--token', svc.tokens.operator]);
    expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
  };

  beforeAll(async () => {
    svc = await startTestService({ clock: new FakeClock(serviceNow) });
    await operate('subscription', 'create', 'city', '--subscriber', 'City', '--not-before', '2025-01-01T00:00:00Z', '--not-after', '2040-01-01T00:00:00Z');
    await operate('node', 'register', 'meter-1', '--class', 'smart-meter', '--manufacturer', 'Acme', '--model', 'SM-10');
    await operate('node', 'enrol', 'meter-1', '--subscription', 'city', '--cse-id', '/meter-1-cse');
  });
  afterAll(async () => {
    await svc?.close();
  });

  it("through the service, reads it at the service's clock", async () => {
    const r = await cli(['state', 'node-meter-1', '--json', '--server', svc.url, '--token', svc.tokens.auditor]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ streamId: 'node-meter-1', at: serviceNow.toISOString(), state: 'enrolled', verdict: { ok: true } });

    const http = await fetch(`${svc.url}/v1/entities/node/meter-1/state`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(http.status).toBe(200);
    expect(await http.json()).toMatchObject({ at: serviceNow.toISOString(), state: 'enrolled' });
  });

  it('on the data folder, reads it at the wall clock', async () => {
    const before = Date.now();
    const r = await cli(['state', 'node-meter-1', '--json', '--data', svc.dir]);
    expect(r.code, r.err).toBe(0);
    const answer = JSON.parse(r.out);
    expect(answer).toMatchObject({ streamId: 'node-meter-1', state: 'enrolled' });
    expect(Date.parse(answer.at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(answer.at)).toBeLessThanOrEqual(Date.now());
  });

  it('an instant given still bounds the read, and an ill-formed one is refused naming --at', async () => {
    const r = await cli(['state', 'node-meter-1', '--json', '--at', '2024-01-01T00:00:00Z', '--data', svc.dir]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ at: '2024-01-01T00:00:00.000Z', state: 'absent' });
    const bad = await cli(['state', 'node-meter-1', '--at', 'yesterday', '--data', svc.dir]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--at');
  });
});
