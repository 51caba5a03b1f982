/**
 * Fix 1075 (review 431, L1): `token list` and `token create --server` paste the server's `next` and `tokenId` into the
 * commands they tell the operator to run (`more: credence token list --after …`, `revoke with credence token revoke …`).
 * A server (or whatever answers in its place) that sent `x; touch /tmp/pwned #` had it printed as a command to paste.
 * The client now reads `next` as the cursor `--after` takes and `tokenId` as a token id: anything else is an answer of
 * another shape (exit 1), and nothing of it is printed as a command.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { handlerServers } from './support/canned-server.ts';
import { runCli } from './support/cli.ts';

const serve = handlerServers();

const answering = (method: string, path: string, status: number, body: unknown) => (req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  const ok = req.method === method && new URL(req.url ?? '/', 'http://x').pathname === path;
  if (!ok) return void res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"about:blank","title":"not found","status":404}');
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const INJECTED = 'x; touch /tmp/pwned #';
const GOOD_ID = 'tok_AAAAAAAAAAAAAAAAAAAAAA';
const row = (tokenId: string) => ({ tokenId, subject: 'ops', role: 'admin', state: 'active', expiresAt: '2030-01-01T00:00:00.000Z' });

describe('token commands through a server whose ids or cursor are not of their form', () => {
  it('token list: a `next` that is no cursor is refused, exit 1, and no command holding it is printed', async () => {
    const url = await serve(answering('GET', '/v1/tokens', 200, { tokens: [], next: INJECTED }));
    const r = await runCli(['token', 'list', '--server', url, '--token', 'a.b.c']);
    expect(r.code, r.err).toBe(1);
    expect(`${r.out}\n${r.err}`).not.toContain('touch');
    expect(r.err).toMatch(/GET \/v1\/tokens/);
  });

  it('token list: a row whose tokenId is no token id is refused, exit 1', async () => {
    const url = await serve(answering('GET', '/v1/tokens', 200, { tokens: [row(INJECTED)] }));
    const r = await runCli(['token', 'list', '--server', url, '--token', 'a.b.c']);
    expect(r.code, r.err).toBe(1);
    expect(`${r.out}\n${r.err}`).not.toContain('touch');
  });

  it('token list: a cursor of its form is still said as the next command', async () => {
    const url = await serve(answering('GET', '/v1/tokens', 200, { tokens: [row(GOOD_ID)], next: '42' }));
    const r = await runCli(['token', 'list', '--server', url, '--token', 'a.b.c']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(GOOD_ID);
    expect(r.err).toMatch(/^more: credence token list --after 42 /);
  });

  it('token create: an issued tokenId that is no token id is refused, exit 1, and no revoke command holding it is printed', async () => {
    const url = await serve(
      answering('POST', '/v1/tokens', 201, { token: 'eyJ.a.b', tokenId: INJECTED, subject: 'ops', role: 'admin', expiresAt: '2030-01-01T00:00:00.000Z' }),
    );
    const r = await runCli(['token', 'create', '--role', 'admin', '--subject', 'ops', '--ttl', '1h', '--server', url, '--token', 'a.b.c']);
    expect(r.code, r.err).toBe(1);
    expect(`${r.out}\n${r.err}`).not.toContain('touch');
    expect(r.err).toMatch(/POST \/v1\/tokens/);
  });
});
