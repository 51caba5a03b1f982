import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { normalizeIP } from '@fastify/rate-limit';
import type { ConnectionError, FastifyBaseLogger } from 'fastify';
import type { ServiceMetrics } from './metrics.ts';
import { clientErrorAnswerOf, clientErrorRefusal } from './problems.ts';

/** Where a listener's HTTP parser refusals are counted and logged, and which listener it is (`probes`, or the API's). */
export interface ClientErrorReport {
  readonly metrics: Pick<ServiceMetrics, 'requestRefused'>;
  readonly log: FastifyBaseLogger;
  readonly listener?: 'probes';
  /**
   * Whether the refusal is logged: the API port's refusals are sampled per address and window (refusal-sampling.ts;
   * review 382: 200 malformed requests wrote 200 lines). Left out, every one is.
   */
  readonly logs?: (address: string) => boolean;
}

/** Each open socket's listener report: a refusal comes with its socket only (connection-limits.ts writes the 408 too). */
const reports = new WeakMap<Socket, ClientErrorReport>();

/**
 * The HTTP parser's refusals on `server`'s connections are counted in credence_http_refused_total (route `unmatched`)
 * and logged, one line each or sampled (`logs`) (review 330: its 400, 408 and 431 answers were neither, though the
 * docs say every 4xx is counted). Called once per listener, as it is built.
 */
export const reportClientErrors = (server: Server, report: ClientErrorReport): void => {
  server.on('connection', (socket: Socket) => reports.set(socket, report));
  // Every head Node completes comes out as `request` (checkContinue and checkExpectation re-emit it, unread-body.ts).
  server.on('request', (request: IncomingMessage, response: ServerResponse) =>
    headsRead.set(request.socket, { count: (headsRead.get(request.socket)?.count ?? 0) + 1, request, response }),
  );
};

/** The request heads each socket's parser has completed, and the last one's request: what came in while a timeout waited (answerClientError). */
const headsRead = new WeakMap<Socket, { readonly count: number; readonly request: IncomingMessage; readonly response: ServerResponse }>();

/**
 * Runs `then` once the event loop has polled its I/O again: a timer fires before the loop reads what sockets hold, so
 * a loop busier than a timeout found a request that came in time still unread in the kernel, and closing the
 * connection then answered it with a reset (issue 1072: `read ECONNRESET` in a burst of 1,400 requests under load).
 */
export const afterAnIoTurn = (then: () => void): void => {
  setImmediate(then);
};

/** answerClientError's refusal, written now and its socket closed. */
const answer = (error: ConnectionError, socket: Socket): void => {
  const refusal = socket.destroyed ? undefined : clientErrorRefusal(error);
  if (refusal !== undefined && socket.writable) {
    socket.write(clientErrorAnswerOf(refusal));
    const report = reports.get(socket);
    if (report !== undefined) {
      report.metrics.requestRefused(refusal.status, 'unmatched', report.listener);
      if (report.logs === undefined || report.logs(normalizeIP(socket.remoteAddress ?? 'unknown'))) {
        report.log.info(
          {
            ...(report.listener === undefined ? {} : { listener: report.listener }),
            res: { statusCode: refusal.status, problem: refusal.code },
            // Node's own code (HPE_INVALID_HEADER_TOKEN, …): a word of the parser's, not the request's.
            ...(typeof error.code === 'string' ? { parserCode: error.code.slice(0, 64) } : {}),
            remoteAddress: socket.remoteAddress,
          },
          'request refused by the HTTP parser',
        );
      }
    }
  }
  socket.destroy(error);
};

/**
 * Fastify's `clientErrorHandler` of every listener: a request the HTTP parser refused, before there is any request or
 * reply, is answered as problem+json with the baseline headers and `no-store` (clientErrorAnswer), and its socket
 * closed. One function for both ports: the probe port had none, and answered Fastify's plain JSON with no security
 * headers. An answer written is counted and logged for its listener (reportClientErrors): its status, problem code,
 * Node's parser code and the remote address, never a byte of the request, which may hold a token.
 *
 * A request timeout (Node's, or connection-limits.ts's) is judged after one more turn of the loop's I/O, once per
 * timeout: a busy loop runs its timers before it reads what sockets hold, so what was sent in time may still be unread
 * (issue 1072), the first bytes of a request or the rest of a head read in part (review 435, a keep-alive connection's
 * second request too). After that turn it is answered 408 unless a connection that had sent nothing began a request
 * (Node's parser times it again, its clock restarted at the request's first byte) or a request came in whole meanwhile
 * (it is the route's; one whose head came but not all its body is answered 408 still, as Node would, unless the route
 * has answered it). A client dripping its head completes none, and is answered that one turn late.
 */
export const answerClientError = (error: ConnectionError, socket: Socket): void => {
  if (error.code !== 'ERR_HTTP_REQUEST_TIMEOUT' || socket.destroyed) return answer(error, socket);
  const heads = headsRead.get(socket)?.count ?? 0;
  const nothingRead = socket.bytesRead === 0;
  afterAnIoTurn(() => {
    if (nothingRead && socket.bytesRead > 0) return;
    const now = headsRead.get(socket);
    if (now !== undefined && now.count > heads && (now.request.complete || now.response.headersSent)) return;
    answer(error, socket);
  });
};
