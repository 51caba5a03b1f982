import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadServiceConfig } from '../adapters/http/config.ts';
import type { RouteModule } from '../adapters/http/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * SER-001. Behind a reverse proxy every client had the proxy's address: one rate-limit budget, one hello allowance
 * and one failed-token count for the whole fleet, so one client could spend them all (a known-left item). The
 * proxies named in `trustProxy` are believed when their X-Forwarded-For names the client; no one else is.
 */
const seen: RouteModule = (app) => {
  app.get('/test/address', { config: { access: 'public' }, schema: { response: { 200: z.strictObject({ ip: z.string() }) } } }, async (request) => ({ ip: request.ip }));
};

const ask = (svc: TestService, forwardedFor?: string) =>
  fetch(`${svc.url}/test/address`, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });

const statuses = async (svc: TestService, forwardedFor: string, count: number): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await ask(svc, forwardedFor)).status);
  return out;
};

const limits = { rateLimitPerAddress: 2, rateLimitWindowMs: 60_000 };

describe('a service behind a proxy it trusts (trustProxy: 127.0.0.1)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [seen], config: { trustProxy: ['127.0.0.1'], limits } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('takes the client from X-Forwarded-For, walked from the right to the first address it does not trust', async () => {
    expect(await (await ask(svc, '203.0.113.9')).json()).toEqual({ ip: '203.0.113.9' });
    // The client wrote the left entry itself: only what the trusted proxy appended is believed.
    expect(await (await ask(svc, '198.51.100.1, 203.0.113.10')).json()).toEqual({ ip: '203.0.113.10' });
  });

  it("gives each forwarded client its own rate-limit budget: one client's flood leaves another's untouched", async () => {
    expect(await statuses(svc, '203.0.113.20', 3)).toEqual([200, 200, 429]);
    expect(await statuses(svc, '203.0.113.21', 2)).toEqual([200, 200]);
  });

  it('refuses a forwarded client that is not an IP address: a caller inside a named range cannot make up budgets', async () => {
    // Found in review: each made-up name was a budget of its own (six requests, six 200s, under a limit of 2).
    for (let i = 0; i < 3; i++) {
      const response = await ask(svc, `made-up-${i}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: unknown[] }).errors).toEqual([expect.objectContaining({ path: 'headers.x-forwarded-for', rule: 'ip_address' })]);
    }
  });
});

describe('a service that trusts no proxy (the default)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ routes: [seen], config: { limits } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('never reads X-Forwarded-For: a client cannot choose its address, nor a fresh budget, by sending one', async () => {
    expect(await (await ask(svc, '203.0.113.30')).json()).toEqual({ ip: '127.0.0.1' });
    expect(await statuses(svc, '203.0.113.31', 2)).toEqual([200, 429]);
  });
});

describe('the trustProxy setting', () => {
  it('is a list in the file, comma-separated in a flag or the environment, and empty unless given', () => {
    expect(loadServiceConfig({}).trustProxy).toEqual([]);
    expect(loadServiceConfig({ env: { CREDENCE_TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,loopback' } }).trustProxy).toEqual(['10.0.0.1', '10.1.0.0/16', 'loopback']);
    expect(loadServiceConfig({ flags: { trustProxy: '::1' } }).trustProxy).toEqual(['::1']);
  });

  it('refuses an entry that is not an address, a range or a known name, naming where it came from', () => {
    const refusal = (sources: Parameters<typeof loadServiceConfig>[0]) => {
      try {
        loadServiceConfig(sources);
      } catch (error) {
        if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
        throw error;
      }
      throw new Error('accepted');
    };
    expect(refusal({ flags: { trustProxy: '10.0.0.1,proxy.example' } })).toEqual([expect.objectContaining({ path: 'flag --trust-proxy[1]', rule: 'proxy_address' })]);
    expect(refusal({ flags: { trustProxy: '10.0.0.0/40' } })).toEqual([expect.objectContaining({ path: 'flag --trust-proxy[0]', rule: 'proxy_address' })]);
    expect(refusal({ env: { CREDENCE_TRUST_PROXY: '*' } })).toEqual([expect.objectContaining({ path: 'env CREDENCE_TRUST_PROXY', rule: 'proxy_address' })]);
    // Forms proxy-addr reads but no one means (found in review: `010.0.0.1` trusted 8.0.0.1), and ranges with host bits
    // set, which it quietly widened.
    for (const entry of ['010.0.0.1', '10.1', '0x0a.0.0.1', '1.2.3.4/8', '2001:db8::1/32', '10.0.0.0/08', '10.0.0.0/33']) {
      expect(refusal({ flags: { trustProxy: entry } }), entry).toEqual([expect.objectContaining({ path: 'flag --trust-proxy[0]', rule: 'proxy_address' })]);
    }
    expect(loadServiceConfig({ flags: { trustProxy: '10.0.0.0/8,2001:db8::/32,::ffff:10.0.0.0/104,fe80::1,uniquelocal' } }).trustProxy).toHaveLength(5);
  });
});
