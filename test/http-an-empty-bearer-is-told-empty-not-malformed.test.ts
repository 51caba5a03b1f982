import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.ts';

// Review 54 finding 1: `curl -H "Authorization: Bearer $OPERATOR"` with OPERATOR unset sends the scheme and nothing
// else; it was refused `malformed`, and a newcomer looked for a fault in a token that was never sent.

/** One request written as curl writes it, the space after `Bearer` included; the answer's status line and body. */
const rawGet = (url: string, authorization: string): Promise<{ readonly status: number; readonly body: string }> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET /v1/tokens HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });

const problemOf = (body: string): { reason?: string; detail?: string } => JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1));

describe('a bearer scheme with no token after it', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  }, 30_000);
  afterAll(async () => {
    await svc?.close();
  });

  it.each(['Bearer ', 'Bearer', 'bearer   '])('%j is refused 401 with reason empty and a detail naming an unset variable', async (authorization) => {
    const answer = await rawGet(svc.url, authorization);
    expect(answer.status).toBe(401);
    const problem = problemOf(answer.body);
    expect(problem.reason).toBe('empty');
    expect(problem.detail).toContain('Authorization: Bearer carries no token');
    expect(problem.detail).toContain('unset shell variable');
  });

  it('leaves the other refusals as they were: no header is missing, another scheme not_bearer (review 257), two words malformed', async () => {
    const none = await fetch(new URL('/v1/tokens', svc.url));
    expect(none.status).toBe(401);
    expect(((await none.json()) as { reason: string }).reason).toBe('missing');
    for (const [authorization, reason] of [['Basic dXNlcjpwYXNz', 'not_bearer'], ['Bearer a b', 'malformed']] as const) {
      const answer = await rawGet(svc.url, authorization);
      expect(answer.status).toBe(401);
      expect(problemOf(answer.body).reason).toBe(reason);
    }
    const good = await fetch(new URL('/v1/tokens', svc.url), { headers: { authorization: `Bearer ${svc.tokens.admin}` } });
    expect(good.status).toBe(200);
  });
});
