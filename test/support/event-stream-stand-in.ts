import type { ServerResponse } from 'node:http';
import { handlerServers } from './canned-server.ts';
import { runCli } from './cli.ts';

/**
 * Call at the top of a test file: `proxy(answer)` starts a stand-in proxy on 127.0.0.1 whose n-th request (from 0) is
 * answered as `answer` says, and gives its URL; each is closed after the test that started it. For tests of what
 * `credence events` does with each connection's answer (the first one's, a reconnection's).
 */
export const numberedAnswers = () => {
  const serve = handlerServers();
  return (answer: (n: number, res: ServerResponse) => void): Promise<string> => {
    let n = 0;
    return serve((_req, res) => answer(n++, res));
  };
};

/** One event of meter m1's stream at `position`, as the service's SSE frames it (retry 250 ms, its id to resume after). */
export const eventFrame = (position: number, type: string): string =>
  `retry: 250\nid: ${position}~0000000${position}\nevent: ${type}\ndata: {"position":"${position}","type":"${type}","streamId":"node-m1","metadata":{"occurredAt":"2026-01-01T00:00:00Z"}}\n\n`;

/** `body` answered as an event stream that then ends. */
export const streamed = (res: ServerResponse, body: string): void => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body);

/** `credence events` against `url` with a token, and `argv`. */
export const eventsCli = (url: string, ...argv: string[]) => runCli(['events', '--server', url, '--token', 't', ...argv]);
