import type { Server } from 'node:http';
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
};

/**
 * Runs `then` once the event loop has polled its I/O again: a timer fires before the loop reads what sockets hold, so
 * a loop busier than a timeout found a request that came in time still unread in the kernel, and closing the
 * connection then answered it with a reset (issue 1072: `read ECONNRESET` in a burst of 1,400 requests under load).
 */
export const afterAnIoTurn = (then: () => void): void => {
  setImmediate(then);
};

/** Sockets whose headers timeout, with nothing read, was put off to the loop's next I/O turn (answerClientError): once only. */
const timedOutUnread = new WeakSet<Socket>();

/**
 * Whether the socket's current request is being answered already: a refusal written then would land inside that answer
 * (review 438: a request timeout of the event stream, whose declared body never came, wrote `HTTP/1.1 408` into its
 * chunked stream). Node's own client-error handler makes the same check on the socket's `_httpMessage`.
 */
const answerBegun = (socket: Socket): boolean => answerOf(socket)?.headersSent === true;

/** The response Node has the socket write now (`_httpMessage`), if any: the earliest answer the connection still owes. */
type OwedAnswer = { readonly headersSent?: boolean; readonly writableFinished?: boolean; readonly req?: { readonly complete?: boolean }; once(event: 'finish' | 'close', listener: () => void): unknown };
const answerOf = (socket: Socket): OwedAnswer | undefined =>
  (socket as Socket & { _httpMessage?: OwedAnswer | null })._httpMessage ?? undefined;

/**
 * Whether the refusal is of a request pipelined behind one whose answer is still owed: that request was read whole,
 * so the parser's refusal is of a later one, and an answer written now would be read as the earlier request's
 * (review 444: `408` came as a running command's answer, though the command ran).
 */
const owedBeforeIt = (socket: Socket): boolean => {
  const owed = answerOf(socket);
  return owed !== undefined && owed.writableFinished !== true && owed.req?.complete === true;
};

/**
 * Closes the socket once every answer it owes has been sent (Node gives it the next queued one as each finishes), reading
 * nothing more meanwhile: the refused request gets no answer, none can be misread as another's, and no request read
 * after it runs without one. The client sees the connection close after its last answer, as RFC 9112 9.3.2 allows.
 */
const closeOnceAnswered = (socket: Socket): void => {
  const owed = answerOf(socket);
  if (socket.destroyed) return;
  if (owed === undefined || owed.writableFinished === true) {
    socket.destroySoon();
    return;
  }
  let done = false;
  const next = (): void => {
    if (done) return;
    done = true;
    // Node's own `finish` listener, added first, has moved the socket on to the next answer by now.
    closeOnceAnswered(socket);
  };
  owed.once('finish', next);
  owed.once('close', next);
};

/**
 * Fastify's `clientErrorHandler` of every listener: a request the HTTP parser refused, before there is any request or
 * reply, is answered as problem+json with the baseline headers and `no-store` (clientErrorAnswer), and its socket
 * closed. One function for both ports: the probe port had none, and answered Fastify's plain JSON with no security
 * headers. An answer written is counted and logged for its listener (reportClientErrors): its status, problem code,
 * Node's parser code and the remote address, never a byte of the request, which may hold a token.
 */
export const answerClientError = (error: ConnectionError, socket: Socket): void => {
  // Node's headers timeout, on a connection it has read nothing of: what was sent may wait unread behind a busy loop
  // (its timers run before its I/O), judged after the next turn of that I/O instead; once read, the request is Node's
  // parser's again, its clock restarted at the request's first byte (issue 1072).
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.bytesRead === 0 && !socket.destroyed && !timedOutUnread.has(socket)) {
    timedOutUnread.add(socket);
    afterAnIoTurn(() => {
      // Still nothing: no request to answer, closed as connection-limits.ts closes one (which Node's check, run in the
      // same turn on a loaded machine, otherwise answered 408); else the parser's again.
      if (socket.bytesRead === 0) socket.destroy();
      else timedOutUnread.delete(socket);
    });
    return;
  }
  // Behind an answer still owed: nothing written now, nothing more read, and closed once it is sent (review 444).
  if (!socket.destroyed && owedBeforeIt(socket)) {
    socket.pause();
    closeOnceAnswered(socket);
    return;
  }
  const refusal = socket.destroyed || answerBegun(socket) ? undefined : clientErrorRefusal(error);
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
