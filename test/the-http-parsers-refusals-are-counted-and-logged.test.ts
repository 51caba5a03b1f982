import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * Review 330 item 2: the HTTP parser's own answers (400 malformed_request, 408 request_timeout, 431 headers_too_large),
 * written on the raw socket before there is a request, were neither counted in credence_http_refused_total, which
 * the docs say counts every 4xx and 5xx answer, nor logged. Each is now counted under route `unmatched` (with
 * `listener="probes"` on the probe port) and logged once: status, problem code, remote address, never the request.
 */

/** Writes `text` on a fresh connection and reads until the service closes it. */
const exchange = (port: number, text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let got = '';
    socket.on('data', (chunk) => (got += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.on('connect', () => socket.write(text));
    setTimeout(() => reject(new Error('no answer in time')), 10_000).unref();
  });

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);

interface LogLine {
  readonly msg?: string;
  readonly listener?: string;
  readonly remoteAddress?: string;
  readonly res?: { readonly statusCode?: number; readonly problem?: string };
}

describe("the HTTP parser's refusals", () => {
  const svc = useTestService({ config: { probePort: 0, limits: { requestTimeoutMs: 1_000 } } });

  it('are counted in credence_http_refused_total and logged once each, without the request', async () => {
    const api = Number(new URL(svc.url).port);
    const probes = Number(new URL(svc.service.probeUrl!).port);
    const secret = 'SEKRET-HEADER-VALUE';
    expect(statusOf(await exchange(api, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${secret}${'a'.repeat(70_000)}\r\n\r\n`))).toBe(431);
    expect(statusOf(await exchange(api, `GET /healthz HTTP/1.1\r\nHost: x\r\nHo st: ${secret}\r\n\r\n`))).toBe(400);
    expect(statusOf(await exchange(api, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${secret}\r\n`))).toBe(408);
    expect(statusOf(await exchange(probes, `GET /healthz HTTP/1.1\r\nHo st: ${secret}\r\n\r\n`))).toBe(400);

    const metrics = await svc.service.context.metrics.render();
    expect(metrics).toMatch(/^credence_http_refused_total\{status="431",route="unmatched"\} 1$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="400",route="unmatched"\} 1$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="408",route="unmatched"\} 1$/m);
    expect(metrics).toMatch(/^credence_http_refused_total\{status="400",route="unmatched",listener="probes"\} 1$/m);

    const logs = svc.logs();
    expect(logs.join('\n')).not.toContain(secret);
    const lines = logs.map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg === 'request refused by the HTTP parser');
    const on = (status: number, listener?: string) => lines.filter((l) => l.res?.statusCode === status && l.listener === listener);
    expect(on(431)).toEqual([expect.objectContaining({ remoteAddress: '127.0.0.1', res: { statusCode: 431, problem: 'headers_too_large' } })]);
    expect(on(400)).toEqual([expect.objectContaining({ res: { statusCode: 400, problem: 'malformed_request' } })]);
    expect(on(408)).toEqual([expect.objectContaining({ res: { statusCode: 408, problem: 'request_timeout' } })]);
    expect(on(400, 'probes')).toHaveLength(1);
    expect(lines).toHaveLength(4);
  });
});
