import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { body } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 135: Node keeps the first of two Authorization, Content-Type or Host headers and drops the other unseen, so
 * `Bearer <operator>` then `Bearer <auditor>` ran a command as the operator, and a body sent `application/json` then
 * `text/plain` was parsed as JSON. An HTTP/1.1 request without Host got Node's own 400: no body, none of the headers
 * every answer carries. RFC 9112 3.2 asks 400 of both Host cases.
 */

const svc = useTestService({ config: { probePort: 0 } });

interface Answer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/** Writes `head` (and `content`) on a fresh connection as they are, and reads the answer until the server closes it. */
const exchange = (url: string, head: readonly string[], content = ''): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname, () => socket.write(`${[...head, 'Connection: close'].join('\r\n')}\r\n\r\n${content}`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [top = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = top.split('\r\n');
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });

/** The refusal every case below expects: a 400 problem naming the header, with the headers every answer carries. */
const expectMalformedRequest = (answer: Answer, says: string): void => {
  expect(answer.status).toBe(400);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  expect(answer.headers.get('x-frame-options')).toBe('DENY');
  expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
  expect(answer.headers.get('connection')).toBe('close');
  const problem = JSON.parse(answer.body) as { type: string; status: number; detail: string };
  expect(problem).toMatchObject({ type: 'https://credence.dev/problems/malformed_request', status: 400 });
  expect(problem.detail).toContain(says);
};

describe('a header Node would keep only the first of', () => {
  it('two Authorization headers are refused before either token acts: the command is not run, under neither role', async () => {
    const command = JSON.stringify(body.createSubscription('sub-twice'));
    const answer = await exchange(
      svc.url,
      [
        'POST /v1/commands HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${svc.tokens.operator}`,
        `authorization: Bearer ${svc.tokens.auditor}`,
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(command)}`,
      ],
      command,
    );
    expectMalformedRequest(answer, 'authorization');
    expect(answer.body).not.toContain(svc.tokens.operator);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const stream = await fetch(new URL('/v1/entities/subscription/sub-twice', svc.url), { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(stream.status).toBe(404);
  });

  it('two Content-Type headers are refused before the body is parsed as either', async () => {
    const command = JSON.stringify(body.createSubscription('sub-typed-twice'));
    const answer = await exchange(
      svc.url,
      [
        'POST /v1/commands HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: Bearer ${svc.tokens.operator}`,
        'Content-Type: application/json',
        'CONTENT-TYPE: text/plain',
        `Content-Length: ${Buffer.byteLength(command)}`,
      ],
      command,
    );
    expectMalformedRequest(answer, 'content-type');
    const stream = await fetch(new URL('/v1/entities/subscription/sub-typed-twice', svc.url), { headers: { authorization: `Bearer ${svc.tokens.operator}` } });
    expect(stream.status).toBe(404);
  });

  it.each([
    ['the API port', () => svc.url],
    ['the probe port', () => svc.service.probeUrl!],
  ])('two Host headers are refused on %s (RFC 9112 3.2)', async (_port, url) => {
    expectMalformedRequest(await exchange(url(), ['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', 'Host: elsewhere.example']), 'host');
  });

  it('one of each, in any case, is served as before', async () => {
    const answer = await exchange(svc.url, ['GET /v1/tokens HTTP/1.1', 'HOST: 127.0.0.1', `AUTHORIZATION: Bearer ${svc.tokens.admin}`]);
    expect(answer.status).toBe(200);
  });
});

describe('an HTTP/1.1 request without Host', () => {
  it.each([
    ['the API port', () => svc.url],
    ['the probe port', () => svc.service.probeUrl!],
  ])('is a 400 problem with the headers every answer carries on %s, not a bare 400', async (_port, url) => {
    expectMalformedRequest(await exchange(url(), ['GET /healthz HTTP/1.1']), 'Host');
  });

  it('HTTP/1.0 may leave Host out (RFC 9112 3.2 asks it of HTTP/1.1)', async () => {
    const answer = await exchange(svc.url, ['GET /healthz HTTP/1.0']);
    expect(answer.status).toBe(200);
  });
});
