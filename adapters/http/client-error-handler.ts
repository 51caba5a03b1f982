import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { normalizeIP } from '@fastify/rate-limit';
import type { ConnectionError, FastifyBaseLogger } from 'fastify';
import type { ServiceMetrics } from './metrics.ts';
import { clientErrorAnswerOf, clientErrorRefusal, type ClientErrorRefusal } from './problems.ts';

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

/** The response Node has the socket write now (`_httpMessage`), if any. */
const answerOf = (socket: Socket): { readonly headersSent?: boolean } | undefined =>
  (socket as Socket & { _httpMessage?: { readonly headersSent?: boolean } | null })._httpMessage ?? undefined;

/**
 * Each socket's answers still owed: the responses of the requests Node has handed to the service and not yet finished
 * (or closed), each with its request. Counted from the server's `request` event to the response's `finish` or `close`,
 * never read off `_httpMessage` (review 449: as one answer finishes, Node hands the socket to the next queued one and
 * flushes it at once, so `writableFinished` said "all sent" with answers still queued, and they were dropped).
 */
const owedAnswers = new WeakMap<Socket, Set<ServerResponse>>();

/** Sockets refused behind answers still owed (answerClientError): closed once the last of those is sent. */
const closingOnceAnswered = new WeakSet<Socket>();

/**
 * Bytes read, and thrown away, from a connection refused behind answers still owed before it is closed at once: enough
 * for a client's last segments in flight, far too little for one to stream behind a command that takes its time (review
 * 453: 5.7 GB in 4 s, a core's worth of the parser refusing each chunk again).
 */
const DISCARDED_AFTER_REFUSAL_MAX_BYTES = 64 * 1024;

/**
 * Counts the answers each of `server`'s connections owes (owedAnswers), which decides where a parser refusal may be
 * written. Called once per listener, as it is built (limitConnections, which every port runs).
 */
export const trackOwedAnswers = (server: Server): void => {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    let owed = owedAnswers.get(socket);
    if (owed === undefined) {
      owed = new Set();
      owedAnswers.set(socket, owed);
    }
    // Backstop: the parser is detached from such a socket (closeOnceAnswered), so no request should come from it.
    if (closingOnceAnswered.has(socket)) {
      socket.destroy();
      return;
    }
    owed.add(response);
    const settled = (): void => {
      if (!owed.delete(response)) return;
      if (owed.size === 0 && closingOnceAnswered.has(socket) && !socket.destroyed) socket.destroySoon();
    };
    response.once('finish', settled);
    response.once('close', settled);
  });
};

/**
 * Whether the refusal is of a request pipelined behind one whose answer is still owed: a request read whole (a refusal
 * of a request still being read, its body late, is that request's own and is written), so the parser's refusal is of a
 * later one, and an answer written now would be read as the earlier request's (review 444: `408` came as a running
 * command's answer, though the command ran).
 */
const owedBeforeIt = (socket: Socket): boolean => {
  for (const response of owedAnswers.get(socket) ?? []) if (response.req.complete) return true;
  return false;
};

/**
 * Closes the socket once every answer it owes has been sent (trackOwedAnswers), running no request read after the
 * refused one: the refused request gets no answer, none can be misread as another's. The client sees the connection
 * close after its last answer, as RFC 9112 9.3.2 allows. Node's parser is detached from the socket: a timeout
 * (ERR_HTTP_REQUEST_TIMEOUT) leaves it whole, and the refused request, its head completed later, ran, and every one
 * after it (review 453). The socket is still read, each byte thrown away up to DISCARDED_AFTER_REFUSAL_MAX_BYTES (past
 * them it is closed at once), so that a client that leaves meanwhile (its FIN) has the connection closed then, its slot
 * freed (review 449: a paused socket saw no FIN and held a maxConnectionsPerAddress slot for the socket timeout).
 */
const closeOnceAnswered = (socket: Socket): void => {
  closingOnceAnswered.add(socket);
  // Node's server reads through its own `data` listener (or straight from the handle, which adding one undoes).
  socket.removeAllListeners('data');
  let discarded = 0;
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARDED_AFTER_REFUSAL_MAX_BYTES) socket.destroy();
  });
  socket.once('end', () => socket.destroy());
  if ((owedAnswers.get(socket)?.size ?? 0) === 0) socket.destroySoon();
};

/** Counts and logs a parser refusal for its listener (reportClientErrors), whether or not it was written (`answered`). */
const reportRefusal = (socket: Socket, error: ConnectionError, refusal: ClientErrorRefusal, answered: boolean): void => {
  const report = reports.get(socket);
  if (report === undefined) return;
  report.metrics.requestRefused(refusal.status, 'unmatched', report.listener);
  if (report.logs === undefined || report.logs(normalizeIP(socket.remoteAddress ?? 'unknown'))) {
    report.log.info(
      {
        ...(report.listener === undefined ? {} : { listener: report.listener }),
        res: { statusCode: refusal.status, problem: refusal.code },
        // Behind answers still owed, nothing is written (review 449): counted and logged all the same.
        ...(answered ? {} : { answered: false }),
        // Node's own code (HPE_INVALID_HEADER_TOKEN, …): a word of the parser's, not the request's.
        ...(typeof error.code === 'string' ? { parserCode: error.code.slice(0, 64) } : {}),
        remoteAddress: socket.remoteAddress,
      },
      'request refused by the HTTP parser',
    );
  }
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
  // Bytes sent after a refusal behind owed answers: the parser refuses each chunk again; once is counted.
  if (closingOnceAnswered.has(socket)) return;
  // Behind an answer still owed: nothing written now, no request after it run, and closed once they are sent
  // (reviews 444, 449); counted and logged as unanswered.
  if (!socket.destroyed && owedBeforeIt(socket)) {
    const unanswered = clientErrorRefusal(error);
    if (unanswered !== undefined) reportRefusal(socket, error, unanswered, false);
    closeOnceAnswered(socket);
    return;
  }
  const refusal = socket.destroyed || answerBegun(socket) ? undefined : clientErrorRefusal(error);
  if (refusal !== undefined && socket.writable) {
    socket.write(clientErrorAnswerOf(refusal));
    reportRefusal(socket, error, refusal, true);
  }
  socket.destroy(error);
};
