/**
 * TEST-ONLY: a server that accepts the connection and every call and never answers any (a stalled node, a proxy
 * holding the line), as review 55 found the adapter waiting on for ever. HTTP/2 pings are still answered, so the
 * client's keep-alive sees a live connection.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface StalledServer {
  readonly port: number;
  /** How many calls it was sent (and never answered). */
  readonly calls: number;
  stop(): Promise<void>;
}

export async function startStalledServer(): Promise<StalledServer> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  let calls = 0;
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', () => void (calls += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get calls() {
      return calls;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}
