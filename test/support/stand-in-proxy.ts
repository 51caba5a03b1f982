import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a stand-in does with one request, its body read whole: forward it (`forwarded`), spoil it, or answer itself. */
export type StandInHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<unknown>;

/**
 * An HTTP stand-in on 127.0.0.1 (a gateway, a proxy) in front of a service, for tests of what a client does when an
 * answer is lost, spoiled or not the route's. A handler that throws drops the connection, as a failing gateway does.
 */
export const standInProxy = async (handle: StandInHandler) => {
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy()));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
};

/** `req` sent on to `origin` as it came (method, headers but the hop's own, body). */
export const forwarded = (origin: string, req: IncomingMessage, body: Buffer): Promise<Response> =>
  fetch(`${origin}${req.url}`, {
    method: req.method!,
    headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)) as [string, string][]),
    ...(body.length > 0 ? { body } : {}),
  });

/** An answer passed back as it came: status, content type and text. */
export const answerWith = async (res: ServerResponse, answer: Response, text?: string): Promise<void> => {
  const body = text ?? (await answer.text());
  res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(body);
};
