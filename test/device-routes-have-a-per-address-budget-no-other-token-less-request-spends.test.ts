/**
 * Review 437 (SER-001): every request without a token was counted under its source address, the device routes'
 * included, so 404 scans and any other token-less traffic from the address (a carrier NAT, common for cellular IoT)
 * spent the devices' budget: with `rateLimitPerAddress` 20, 20 GETs of unknown paths left GET /v1/enrolment and
 * both hellos answered 429 for the rest of the window. The device routes now have a budget of their own per address,
 * of the same size, which neither spends of the other's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

const LIMIT = 20;

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ config: { limits: { rateLimitPerAddress: LIMIT, rateLimitWindowMs: 60_000, helloFloorMs: 0 } } });
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const from = (remoteAddress: string) => async (method: 'GET' | 'POST', url: string) => {
  const reply = await svc.service.app.inject({ method, url, remoteAddress, ...(method === 'POST' ? { payload: {} } : {}) });
  return { status: reply.statusCode, retryAfter: reply.headers['retry-after'] };
};

/** The device routes, one request each: a junk body is refused 400, not past any budget. */
const DEVICE_REQUESTS = [
  ['GET', '/v1/enrolment'],
  ['POST', '/v1/enrolment/hello'],
  ['POST', '/v1/registrar/associations/x/hello'],
] as const;

describe('the device routes\' budget per address (review 437)', () => {
  it('is not spent by 404s from the address: the device routes still answer once the address\'s budget is spent', async () => {
    const ask = from('203.0.113.50');
    for (let i = 0; i < LIMIT; i++) expect((await ask('GET', `/v1/no-such-route-${i}`)).status).toBe(404);
    expect(await ask('GET', '/v1/no-such-route-last')).toEqual({ status: 429, retryAfter: '60' });
    for (const [method, url] of DEVICE_REQUESTS) expect((await ask(method, url)).status, `${method} ${url}`).not.toBe(429);
  });

  it('still limits the device routes by their own budget, which leaves the address\'s other requests theirs', async () => {
    const ask = from('203.0.113.51');
    for (let i = 0; i < LIMIT; i++) {
      const [method, url] = DEVICE_REQUESTS[i % DEVICE_REQUESTS.length]!;
      expect((await ask(method, url)).status, `request ${i + 1}: ${method} ${url}`).not.toBe(429);
    }
    for (const [method, url] of DEVICE_REQUESTS) expect(await ask(method, url), `${method} ${url}`).toEqual({ status: 429, retryAfter: '60' });
    expect((await ask('GET', '/v1/no-such-route')).status).toBe(404);
  });
});
