import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReadyzHarness, type ReadyzHarness } from './support/readyz-harness.ts';

/*
 * Review 381 #2: with a probe port configured, /metrics answers 404 on the API's port (review 90), yet /readyz there
 * still told anyone the projections' lag (`eventsBehind` in the 200 and in the lag 503, whose detail named the bound
 * too): polled while an operator sent commands, it went 0/1/2, the activity signal review 50 removed. On the API's port
 * of such a service /readyz now says ready or not and why, no numbers; the probe port (behind its firewall) and
 * GET /v1/projections keep them.
 */
describe('/readyz of a service with a probe port', () => {
  let svc: ReadyzHarness;
  beforeAll(async () => {
    svc = await startReadyzHarness({ readyMaxLagEvents: 10 });
  });
  afterAll(async () => {
    await svc?.close();
  });

  const readyz = async (base: string): Promise<{ status: number; text: string }> => {
    const answer = await fetch(`${base}/readyz`);
    return { status: answer.status, text: await answer.text() };
  };

  it('answers ready on the API port with its status only, whatever the lag under the bound', async () => {
    for (const lag of [0, 2]) {
      svc.lag = lag;
      const { status, text } = await readyz(svc.api);
      expect(status).toBe(200);
      expect(JSON.parse(text)).toEqual({ status: 'ready' });
    }
  });

  it('answers a lag past the bound on the API port with the reason code, no count and no bound', async () => {
    svc.lag = 57;
    const { status, text } = await readyz(svc.api);
    expect(status).toBe(503);
    const problem = JSON.parse(text) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: 'https://credence.dev/problems/not_ready', check: 'lag' });
    expect(problem).not.toHaveProperty('eventsBehind');
    // The request id is random hex and may hold "57" or "10" by chance: only what the service chose to say is searched.
    const { requestId, ...said } = problem;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(said)).not.toMatch(/57|\b10\b/);
    svc.lag = 0;
  });

  it('keeps the lag numbers on the probe port', async () => {
    svc.lag = 3;
    expect(JSON.parse((await readyz(svc.probes)).text)).toEqual({ status: 'ready', eventsBehind: 3, secondsBehind: 3 });
    svc.lag = 57;
    const { status, text } = await readyz(svc.probes);
    expect(status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ check: 'lag', eventsBehind: 57 });
    svc.lag = 0;
  });
});
