import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import { Observable } from 'rxjs';
import type { ServiceMetrics } from '../../adapters/http/metrics.ts';
import { frameEvent, type SseMessage } from '../../adapters/http/sse/frame.ts';
import { SseSession, type CloseReason } from '../../adapters/http/sse/session.ts';
import { parseEventStream, type SseFrame } from '../../adapters/client/sse.ts';

/*
 * One SseSession on a real socket, fed an endless run of same-sized events as fast as its writer lets it (the pull
 * loop's contract: the next event only once the previous write has settled), for a client that may stop reading.
 * What it records is what the server holds for that client: the response's queue (`writableLength`, Node's buffers
 * of the response and its socket) right after each event is written.
 */

const noMetrics = new Proxy({}, { get: () => () => undefined }) as ServiceMetrics;
const noLog = new Proxy({}, { get: () => () => undefined }) as FastifyBaseLogger;

/** About 4 kB an event, as the fleet's larger events. */
export const message = (n: number): SseMessage => ({
  id: String(n),
  event: 'NodeRegistered',
  data: JSON.stringify({ position: String(n), pad: 'x'.repeat(4_000) }),
});
/** The most one event adds to the queue: its frame (ids up to 6 digits) and its HTTP chunk's size line and CRLFs. */
export const EVENT_BYTES = frameEvent(message(999_999)).length + 16;

export interface SessionServer {
  readonly url: URL;
  /** The queue after each event was written, in order: the last is where the stream stands (or paused). */
  readonly queued: number[];
  /** How many events the writer accepted (their writes settled). */
  delivered(): number;
  /** The reason the session ended, and the queue right after it wrote its final frames. */
  readonly ended: Promise<{ readonly reason: CloseReason; readonly queuedAtEnd: number }>;
  /** The server's end of the connection has closed. */
  readonly connectionClosed: Promise<void>;
  close(): Promise<void>;
}

export interface SessionServerOptions {
  readonly highWaterBytes: number;
  readonly stallMs: number;
  /** Stop after this event (the stream then completes: the session ends with `shutdown`); endless without it. */
  readonly lastEvent?: (queued: readonly number[]) => boolean;
}

export async function startSessionServer(options: SessionServerOptions): Promise<SessionServer> {
  const queued: number[] = [];
  let delivered = 0;
  let settle: (value: { reason: CloseReason; queuedAtEnd: number }) => void = () => undefined;
  const ended = new Promise<{ reason: CloseReason; queuedAtEnd: number }>((resolve) => (settle = resolve));
  let connection: Socket | undefined;
  let connectionClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (connectionClosed = resolve));
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    connection = req.socket;
    req.socket.once('close', () => connectionClosed());
    const session: SseSession = new SseSession({
      res,
      connection: req.socket,
      headers: {},
      requestId: 'r-1',
      role: 'auditor',
      remainingMs: () => 600_000,
      onRevoked: () => () => undefined,
      heartbeatMs: 600_000,
      highWaterBytes: options.highWaterBytes,
      stallMs: options.stallMs,
      metrics: noMetrics,
      shutdown: new AbortController().signal,
      log: noLog,
      // Called only once the connection has closed (review 120): the end of the stream is what `run` resolves with.
      onClosed: () => undefined,
    });
    const events = new Observable<never>((subscriber) => {
      let stopped = false;
      void (async () => {
        for (let n = 1; !stopped; n++) {
          const writing = session.deliver(message(n));
          queued.push(res.writableLength);
          await writing;
          delivered = n;
          if (options.lastEvent?.(queued) === true) return subscriber.complete();
          // As the pull loop does, so the socket's callbacks and the test's timers get their turn.
          await yieldToLoop();
        }
      })().catch((error: unknown) => subscriber.error(error));
      return () => {
        stopped = true;
      };
    });
    void session.run(events).then((reason) => settle({ reason, queuedAtEnd: res.writableLength }));
  };
  const server: Server = createServer(serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/events`),
    queued,
    delivered: () => delivered,
    ended,
    connectionClosed: closed,
    close: async () => {
      connection?.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A client that reads nothing of the body until told: Node's HTTP client then stops reading the socket. */
export async function pausedClient(url: URL): Promise<{ readonly status: number | undefined; readAll(): Promise<SseFrame[]> }> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = get(url, { headers: { accept: 'text/event-stream' } }, resolve);
    request.on('error', reject);
  });
  response.pause();
  return {
    status: response.statusCode,
    // Everything the connection still delivers, to its end or its cut, parsed as a client would.
    readAll: async () => {
      const chunks: Uint8Array[] = [];
      await new Promise<void>((resolve) => {
        response.on('data', (chunk: Uint8Array) => chunks.push(chunk));
        response.once('end', () => resolve());
        response.once('error', () => resolve());
        response.once('close', () => resolve());
        response.resume();
      });
      const frames: SseFrame[] = [];
      for await (const frame of parseEventStream((async function* () {
        yield* chunks;
      })())) frames.push(frame);
      return frames;
    },
  };
}

const HANG_GUARD_MS = 30_000;
export const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), HANG_GUARD_MS).unref())]);

/** Polls `condition` until it holds (or the hang guard fires). */
export const until = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + HANG_GUARD_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
