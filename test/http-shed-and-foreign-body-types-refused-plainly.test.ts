import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Two refusals found in review: a request shed under pressure was counted twice in credence_http_refused_total (once
 * by the shedding, once with every other refusal), and the OCSP body type, whose parser is the whole server's, was
 * accepted on every JSON route, where it skipped the JSON limits and failed the schema with a misleading message.
 */

describe('a request shed under pressure', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { limits: { maxHeapUsedBytes: 1, pressureSampleIntervalMs: 10 } } });
  });
  afterAll(async () => svc?.close());

  it('is counted once among the refusals', async () => {
    const get = () => fetch(`${svc.url}/v1/entities`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } });
    let shed = 0;
    for (let i = 0; i < 100 && shed < 2; i++) {
      if ((await get()).status === 503) shed++;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(shed).toBe(2);
    const line = (await (await fetch(`${svc.url}/metrics`)).text()).split('\n').find((l) => l.startsWith('credence_http_refused_total{status="503",route="/v1/entities"}'));
    expect(line).toMatch(/ 2$/);
  });
});

describe('the OCSP request type on a route other than the OCSP responder', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc?.close());

  it.each([
    ['/v1/tokens', 'admin'],
    ['/v1/commands', 'operator'],
  ] as const)('is refused at %s as any type but JSON is: 415 unsupported_media_type', async (path, role) => {
    const response = await fetch(`${svc.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens[role]}`, 'content-type': 'application/ocsp-request' },
      body: JSON.stringify({ subject: 'x1', role: 'auditor', ttl: '1h' }),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ type: 'https://credence.dev/problems/unsupported_media_type', status: 415, detail: 'send application/json' });
  });
});
