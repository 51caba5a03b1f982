import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientErrorAnswer } from '../adapters/http/problems.ts';
import { useTestService } from './support/service.ts';

/*
 * Found in review: the HTTP parser's refusals, written on the raw socket before there is any request, carried no
 * Cache-Control, while the service answers a request with a bearer token `no-store` (baseline-headers.ts). A refusal
 * before the headers are read cannot tell whether one was sent: it now says `no-store` always, on both ports.
 */
const svc = useTestService({ config: { probePort: 0 } });

/** Writes `raw` on a fresh connection to `base`'s port and reads until the server closes it; the status line and headers. */
const exchange = (raw: string, base: string): Promise<{ statusLine: string; headers: Map<string, string> }> =>
  new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(raw));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(headLinesOf(answer)));
    socket.on('error', reject);
  });

const headLinesOf = (answer: string): { statusLine: string; headers: Map<string, string> } => {
  const [statusLine = '', ...lines] = answer.split('\r\n\r\n')[0]!.split('\r\n');
  return { statusLine, headers: new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as const)) };
};

describe('a request the HTTP parser refuses', () => {
  it.each([
    ['a malformed request line', 'NOT A REQUEST LINE\r\n\r\n'],
    ['a malformed request line after a bearer token', 'GET /v1/entities HTTP/1.1 EXTRA\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n'],
    ['a malformed header line', 'GET /healthz HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n'],
  ] as const)('is answered no-store on the API port: %s', async (_, raw) => {
    const { statusLine, headers } = await exchange(raw, svc.url);
    expect(statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(headers.get('content-type')).toBe('application/problem+json');
    expect(headers.get('cache-control')).toBe('no-store');
  });

  it('is answered no-store on the probe port', async () => {
    const { statusLine, headers } = await exchange('NOT A REQUEST LINE\r\n\r\n', svc.service.probeUrl!);
    expect(statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    ['a malformed request', 'HPE_INVALID_METHOD', 400],
    ['headers too large', 'HPE_HEADER_OVERFLOW', 431],
    ['a request not received in time', 'ERR_HTTP_REQUEST_TIMEOUT', 408],
  ] as const)('is answered no-store whatever the refusal: %s', (_, code, status) => {
    const { statusLine, headers } = headLinesOf(clientErrorAnswer(Object.assign(new Error(code), { code }))!);
    expect(statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(headers.get('cache-control')).toBe('no-store');
  });
});
