/**
 * Review 342, finding 3: the 412's title was Node's status text, "Precondition Failed", where every other problem's
 * title is in sentence case ("Invalid request", "Not found"): a client showing titles showed this one apart. So did
 * every refusal whose code has no title of its own (a header sent twice: "Bad Request"), and the HTTP parser's own.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { statusTitle } from '../adapters/http/problems.ts';
import { body } from './http-conformance.fixtures.ts';
import { useTestService } from './support/service.ts';

const svc = useTestService();

const rawAnswer = (port: number, request: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });

describe('a problem title', () => {
  it('is "Precondition failed" for a write refused 412 for a condition it was sent with', async () => {
    const refused = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json', 'if-match': '*' },
      body: JSON.stringify(body.registerNode('meter-342-title')),
    });
    expect(refused.status).toBe(412);
    expect(((await refused.json()) as { title: string }).title).toBe('Precondition failed');
  });

  it('is in sentence case for a code with no title of its own (a header sent twice)', async () => {
    const port = Number(new URL(svc.url).port);
    const answer = await rawAnswer(port, `GET /v1/entities HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${svc.tokens.operator}\r\nAuthorization: Bearer ${svc.tokens.operator}\r\nConnection: close\r\n\r\n`);
    expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 400 /);
    const problem = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { title: string };
    expect(problem.title).toBe('Bad request');
  });

  it('is in sentence case when the HTTP parser refuses the request itself', async () => {
    const port = Number(new URL(svc.url).port);
    const answer = await rawAnswer(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n');
    const problem = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { title: string };
    expect(problem.title).toBe('Bad request');
  });

  it('keeps a word in capitals', () => {
    expect(statusTitle(414)).toBe('URI too long');
    expect(statusTitle(503)).toBe('Service unavailable');
  });
});
