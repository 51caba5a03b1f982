import { describe, expect, it } from 'vitest';
import { expectUnmetExpectRefused, rawHttpSocket, until } from './support/raw-http-socket.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 199: a request whose `Expect` asked for anything but `100-continue` got Node's bare 417, with no
 * problem+json, no x-request-id, no security headers, counted by neither the rate limit nor the metrics. It is
 * answered by the service like any refusal, `417 expectation_failed`, and its connection is closed.
 */
const svc = useTestService();

describe('a request with an Expect the service cannot meet', () => {
  it('is answered 417 problem+json with the usual headers, counted, and its connection closed', async () => {
    const head = await expectUnmetExpectRefused(svc.url, 'GET /v1/entities HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: something-else\r\n' + `Authorization: Bearer ${svc.tokens.operator}\r\n\r\n`);
    expect(head).toMatch(/x-request-id: \S+/);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/credence_http_refused_total\{status="417",route="\/v1\/entities"\} 1/);
  });

  it('leaves 100-continue as it was', async () => {
    const raw = await rawHttpSocket(svc.url);
    try {
      raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n\r\n');
      expect(await until(() => raw.received().endsWith('}'), 5_000)).toBe(true);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      raw.socket.destroy();
    }
  });
});
