import { createServer, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestUrl } from '../adapters/client/http.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

/*
 * Found in review 24: the client resolved `/v1/...` against the server URL, which replaced the URL's path, so with
 * `--server https://gateway/credence/` (a service behind a reverse proxy's prefix) the bearer token went to
 * `https://gateway/v1/...`, which may be another application. The URL's path is now the prefix of every request,
 * and a query or fragment (which would be dropped) is bad usage.
 */

describe("the server URL's path is the prefix of every request", () => {
  const seen: { path: string; authorization: string | undefined }[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    seen.push({ path: request.url ?? '', authorization: request.headers.authorization });
    response.writeHead(503, { 'content-type': 'application/problem+json' });
    response.end(JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503 }));
  });
  let origin = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_TOKEN: 'a.b.c' } });
    return { code, err: c.err.join('\n') };
  };

  it.each([['/credence-prod/'], ['/credence-prod'], ['/credence-prod//']])('sends the request under %s, with the token, and only there', async (prefix) => {
    seen.length = 0;
    await cli(['replay', '--server', `${origin}${prefix}`]);
    expect(seen).toEqual([{ path: '/credence-prod/v1/replay', authorization: 'Bearer a.b.c' }]);
  });

  it('sends requests at the root when the URL has no path', async () => {
    seen.length = 0;
    await cli(['replay', '--server', origin]);
    expect(seen.map((s) => s.path)).toEqual(['/v1/replay']);
  });

  it('keeps the query of the request itself under the prefix', () => {
    expect(requestUrl(`${origin}/gw/`, '/v1/compliance/revocations?reason=keyCompromise').href).toBe(`${origin}/gw/v1/compliance/revocations?reason=keyCompromise`);
  });

  it.each([['?tenant=a'], ['#top']])('refuses a server URL with %s as bad usage (exit 2), before any request', async (tail) => {
    seen.length = 0;
    const r = await cli(['replay', '--server', `${origin}/gw/${tail}`]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: --server: must not carry a query or fragment/m);
    expect(seen).toEqual([]);
    expect(() => requestUrl(`${origin}/gw/${tail}`, '/v1/replay')).toThrow('baseUrl: must not carry a query or fragment');
  });
});
