import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

/**
 * Found in review 242: without a probe port /metrics is public on the API's port, and prom-client's default
 * `nodejs_version_info` told anyone the exact Node.js version (`credence_nodejs_version_info{version="v20.20.2"}`),
 * which names the security fixes the process lacks. The registry no longer holds it; the process metrics stay.
 */
describe('a public /metrics', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('has no Node.js version metric nor the version anywhere, and still the process metrics', async () => {
    const reply = await fetch(`${svc.url}/metrics`);
    expect(reply.status).toBe(200);
    const text = await reply.text();
    expect(text).not.toMatch(/nodejs_version_info/);
    expect(text).not.toContain(process.version);
    expect(text).toMatch(/^credence_process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^credence_nodejs_eventloop_lag_seconds /m);
  });
});
