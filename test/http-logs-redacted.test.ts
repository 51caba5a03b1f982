import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RouteModule } from '../adapters/http/context.ts';
import { startTestService, type TestService } from './support/service.ts';

const SECRETS = { psk: 'psk-VALUE-1f2e3d', pin: '982734', password: 'pw-VALUE-77', privateKey: 'pk-VALUE-55', sessionKey: 'sk-VALUE-99', key: 'key-VALUE-11' };

// A careless handler that logs what it received, deep inside other objects.
const careless: RouteModule = (app) => {
  app.post('/test/careless', { config: { access: ['operator'] }, schema: { body: z.unknown() } }, async (request) => {
    request.log.info({ received: { outer: [request.body] }, headers: request.headers }, 'careless handler');
    return { ok: true };
  });
};

describe('logs: JSON lines with a request id, no token and no secret field', () => {
  let svc: TestService;
  let issued = '';
  beforeAll(async () => {
    svc = await startTestService({ routes: [careless], config: { logLevel: 'trace' } });
    const response = await fetch(`${svc.url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.tokens.admin}` },
      body: JSON.stringify({ subject: 'alice', role: 'operator', ttl: 600 }),
    });
    issued = ((await response.json()) as { token: string }).token;
    await fetch(`${svc.url}/test/careless?access_token=${issued}&page=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${issued}`, cookie: 'session=cookie-VALUE-3' },
      body: JSON.stringify({ deep: { deeper: SECRETS }, token: svc.tokens.integrator }),
    });
    await fetch(`${svc.url}/v1/tokens`, { headers: { authorization: `Bearer ${svc.tokens.operator}x` } });
    // Found in review: a token after `Bearer `, with its dots escaped, or in the path, reached the request log line.
    const auditor = svc.tokens.auditor;
    await fetch(`${svc.url}/v1/entities?q=Bearer%20${auditor}`);
    await fetch(`${svc.url}/v1/entities?q=${auditor.replace(/\./g, '%2E')}`);
    await fetch(`${svc.url}/v1/entities/node/${auditor}`);
    // And beside a malformed escape, or escaped twice.
    await fetch(`${svc.url}/v1/entities?q=%ZZ${svc.tokens.admin.replace(/\./g, '%2E')}`);
    await fetch(`${svc.url}/v1/entities?q=${svc.tokens.integrator.replace(/\./g, '%252E')}`);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('writes one JSON object per line, each request line with its request id', () => {
    const lines = svc.logs().map((l) => JSON.parse(l) as { reqId?: string; msg?: string });
    expect(lines.length).toBeGreaterThan(5);
    const careless = lines.find((l) => l.msg === 'careless handler');
    expect(careless?.reqId).toMatch(/\S+/);
  });

  it('holds no token string, no cookie and no secret value anywhere', () => {
    const text = svc.logs().join('\n');
    for (const token of [...Object.values(svc.tokens), issued]) {
      // The signature part is what makes a token usable; none of it may appear.
      expect(text).not.toContain(token.split('.')[2]);
    }
    for (const value of [...Object.values(SECRETS), 'cookie-VALUE-3']) expect(text).not.toContain(value);
    expect(text).toContain('[redacted]');
  });

  it('keeps what helps an operator: methods, paths, statuses, token ids', () => {
    const lines = svc.logs().map((l) => JSON.parse(l) as { req?: { url: string }; res?: { statusCode: number }; tokenId?: string });
    expect(lines.some((l) => l.req?.url === '/test/careless?[redacted]&[redacted]')).toBe(true);
    expect(lines.some((l) => l.res?.statusCode === 401)).toBe(true);
    expect(lines.some((l) => typeof l.tokenId === 'string' && l.tokenId.startsWith('tok_'))).toBe(true);
  });
});
