import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';

/**
 * Call inside a describe: a server on 127.0.0.1 that answers each path set in `answers` with 200 and that JSON, and
 * anything else with a 404 problem; for CLI tests of what a client does with a server's answers. `url()` once started.
 */
export const cannedServer = () => {
  const answers = new Map<string, string>();
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((request, response) => {
      const body = answers.get(new URL(request.url ?? '/', 'http://x').pathname);
      if (body === undefined) return void response.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"about:blank","title":"not found","status":404}');
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { answers, url: () => url };
};

/**
 * Call inside a describe: a server on 127.0.0.1 that answers every request with `status` and the problem document
 * `body`, both set by the test as it goes, and keeps each request's URL in `requests`; for CLI tests of what a client
 * prints of a refusal, and of what it never sends. `url` once started.
 */
export const problemServer = (status: number, body = '') => {
  const state = { status, body, url: '', requests: [] as string[] };
  let server: Server;
  beforeAll(async () => {
    server = createServer((request, response) => {
      state.requests.push(request.url ?? '');
      response.writeHead(state.status, { 'content-type': 'application/problem+json' }).end(state.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
};

/**
 * Call at the top of a test file: `serve(handler)` starts a server on 127.0.0.1 answering with `handler` and gives its
 * URL; each is closed, its connections cut, after the test that started it. For tests of what a client does with a
 * hostile or broken server's answer.
 */
export const handlerServers = () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  return async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
};
