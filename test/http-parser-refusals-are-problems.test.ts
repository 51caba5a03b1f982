import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

/*
 * Found in review: the HTTP parser's own refusals (before there is a request) were Fastify's plain JSON, where every
 * refusal of the service is documented as application/problem+json.
 */

/** Writes `raw` on a fresh connection and reads until the server closes it. */
const exchange = (port: number, raw: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });

describe('requests the HTTP parser refuses', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const port = () => Number(new URL(svc.url).port);
  const cases: [string, string, number, string][] = [
    ['a malformed header line', 'GET /healthz HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n', 400, 'malformed_request'],
    ['a body framed two ways', 'POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'malformed_request'],
    ['headers over the limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ];

  it.each(cases)('%s: problem+json, the connection closed, nothing of the input echoed', async (_name, raw, status, code) => {
    const answer = await exchange(port(), raw);
    const [head, body] = answer.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head.toLowerCase()).toContain('content-type: application/problem+json');
    expect(JSON.parse(body)).toMatchObject({ type: `https://credence.dev/problems/${code}`, status });
    expect(answer).not.toContain('bad header line');
    expect(answer).not.toContain('aaaa');
  });
});
