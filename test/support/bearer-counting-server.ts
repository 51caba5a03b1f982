import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/**
 * A server on 127.0.0.1 that answers nothing useful (404) and keeps the bearer tokens sent to it, set up and closed
 * around the describe block or file that calls this: what a token-file test asks is whether the CLI sent anything.
 */
export const useBearerCountingServer = (): { readonly sent: string[]; url(): string } => {
  const sent: string[] = [];
  let server: Server | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    server = createServer((request, response) => {
      sent.push(request.headers.authorization ?? '');
      response.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"about:blank","title":"Not Found","status":404}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))));
  return {
    sent,
    url: () => {
      if (url === undefined) throw new Error('the bearer-counting server is not listening yet (used outside a test?)');
      return url;
    },
  };
};
