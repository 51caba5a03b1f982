import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, UnexpectedResponse } from '../adapters/client/http.ts';
import { operatorClient } from '../adapters/client/operator.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

/*
 * Found in review: the client followed redirects. A DELETE answered 303 became a GET with the bearer token, and
 * `credence token revoke` printed "revoked" with exit 0 for a token still valid; a POST answered 302 became a GET; a
 * 307 posted commands and device protocol messages again to whatever host the Location named. Now no request
 * follows a redirect: any 3xx is an UnexpectedResponse naming the status (exit 1), and a token is revoked only on
 * the route's 204.
 */

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};
const close = async (server: Server): Promise<void> => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
};

describe('the HTTP client and redirects', () => {
  /** Where the redirects point: it must never see a request. */
  const elsewhereSeen: Seen[] = [];
  let elsewhere: Server;
  let elsewhereUrl: string;
  /** Answers `/<status>/...` with that status and a Location on `elsewhere`; `/ok-200/...` with 200 `{}`. */
  let server: Server;
  let url: string;

  beforeAll(async () => {
    elsewhere = createServer((req, res) => {
      elsewhereSeen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    elsewhereUrl = await listen(elsewhere);
    server = createServer((req, res) => {
      const status = Number(/^\/(\d{3})\//.exec(req.url ?? '')?.[1] ?? 404);
      if (status === 200) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const location = `${elsewhereUrl}/v1/tokens`;
      res.writeHead(status, { location, 'content-type': 'text/plain' }).end('moved');
    });
    url = await listen(server);
  });
  afterAll(async () => {
    await close(server);
    await close(elsewhere);
  });

  it.each([
    ['DELETE', 303],
    ['POST', 302],
    ['POST', 307],
    ['POST', 308],
    ['GET', 301],
  ] as const)('does not follow a %s answered %d: UnexpectedResponse naming the status, not the Location', async (method, status) => {
    const path = `/${status}/v1/tokens/tok_AAAAAAAAAAAAAAAAAAAAAA`;
    const refused = await request(url, { method, path, token: 'a.b.c', ...(method === 'POST' ? { body: { type: 'revokeNode' } } : {}), timeoutMs: 5_000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(UnexpectedResponse);
    expect((refused as Error).message).toBe(
      `unexpected answer from server to ${method} ${path}: the server answered ${status}, a redirect, which this client does not follow (give the server's own URL)`,
    );
    expect(elsewhereSeen).toEqual([]);
  });

  it('revokes a token only on the route’s 204: a 200 is an UnexpectedResponse', async () => {
    // A server (or a proxy) that answers the DELETE with 200 and a body has not said the token is revoked.
    const ok = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"fine":true}'));
    const okUrl = await listen(ok);
    try {
      const answer = await operatorClient(okUrl, 'a.b.c', { timeoutMs: 5_000 })
        .revokeToken('tok_AAAAAAAAAAAAAAAAAAAAAA')
        .then(() => 'revoked', (error: unknown) => error);
      expect(answer).toBeInstanceOf(UnexpectedResponse);
      expect((answer as Error).message).toBe('unexpected answer from server to DELETE /v1/tokens/{tokenId}: status 200, not 204 (revoked)');
    } finally {
      await close(ok);
    }
  });

  it('credence token revoke answered 303 exits 1 and never says revoked', async () => {
    // Every path answered 303, to the same path elsewhere (the route paths are absolute: a prefix in --server is dropped).
    const redirecting = createServer((req, res) => void res.writeHead(303, { location: `${elsewhereUrl}${req.url ?? ''}` }).end());
    const redirectingUrl = await listen(redirecting);
    try {
      const r = capture();
      expect(await main(['token', 'revoke', 'tok_AAAAAAAAAAAAAAAAAAAAAA', '--server', redirectingUrl, '--token', 'a.b.c'], { ...r.io, env: {} })).toBe(1);
      expect(r.err.join('\n')).toMatch(/^error: unexpected answer from server to DELETE \/v1\/tokens\/tok_A+: the server answered 303, a redirect/m);
      expect(r.err.join('\n')).not.toMatch(/^revoked/m);
      expect(r.out).toEqual([]);
      expect(elsewhereSeen).toEqual([]);
    } finally {
      await close(redirecting);
    }
  });
});
