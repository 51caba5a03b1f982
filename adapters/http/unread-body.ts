import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { App } from './context.ts';
import { HttpProblem } from './problems.ts';

/**
 * The largest declared body an answer sent before it was read leaves for Node to read and discard, keeping the
 * connection: a few reads of a socket at most (Node reads up to 64 KiB at a time), and every JSON body the API takes
 * in practice (a command is a few KiB), while the bodies Node was made to swallow (review 158: 563 MB) are far past it.
 * Closing below it cost the caller its connection and dropped a request pipelined after a small body (review 166).
 */
export const UNREAD_BODY_KEPT_BYTES = 64 * 1024;

/** Requests that asked `Expect: 100-continue` and were not yet told to send their body. */
const continueWithheld = new WeakSet<IncomingMessage>();

/**
 * Whether an answer sent now leaves a body unread that its connection should not outlive: the parser has not met its
 * end, and it is chunked (no bound but the client's), declared longer than UNREAD_BODY_KEPT_BYTES, or not sent at all
 * because `100 Continue` was withheld (RFC 9110 10.1.1: the server says it closes rather than wait for a body the
 * client may or may not send). A small declared length, still on its way or merely not yet parsed (a 401 goes out
 * before the parser reaches a body that came in the same write), is read and discarded by Node, and the connection
 * then serves the next request, pipelined or not (review 166). Kept open, the others had Node read and discard a body
 * however long: a chunked body with no end, sent with no token, held one connection for hundreds of megabytes
 * (review 158).
 */
export const bodyLeftUnread = (raw: IncomingMessage): boolean =>
  !raw.complete &&
  (continueWithheld.has(raw) || raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length']) > UNREAD_BODY_KEPT_BYTES);

/**
 * An answer sent while bodyLeftUnread ends its connection once written, whichever way it went out: the onSend hook
 * says `Connection: close` (and Node then closes), and this closes too what no onSend hook sees (the router's
 * refusals, a response written on the raw socket). The socket is destroyed once the answer is flushed, not just
 * ended: the server is half-open, so an ended socket would go on reading the body (review 158).
 */
export const closeConnectionsOfUnreadBodies = (server: Server): void => {
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    response.once('finish', () => {
      if (!bodyLeftUnread(request)) return;
      const socket = request.socket;
      if (socket.destroyed) return;
      if (socket.writableFinished) return void socket.destroy();
      socket.once('finish', () => socket.destroy());
      socket.end();
    });
  });
};

/**
 * `Expect: 100-continue` is answered `100 Continue` only when the body starts to be read, no longer as the headers
 * arrive (Node's default): a request refused on its headers (no token, a bad one, a role not allowed, no route, a
 * refusal of the router or of a preParsing check) is answered without inviting a body the service will not read, and
 * its connection closes (bodyLeftUnread). Every body the service reads goes through a stream's resume() (Fastify's
 * body reader), which emits `resume`; Node's own discard of an unread body resumes it too, once the answer is out,
 * when it is too late to invite it.
 */
export const withholdContinueUntilTheBodyIsRead = (server: Server): void => {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    continueWithheld.add(request);
    request.once('resume', () => {
      // Once the answer is out it stays withheld: the connection then closes (bodyLeftUnread).
      if (response.headersSent || response.writableEnded) return;
      continueWithheld.delete(request);
      response.writeContinue();
    });
    server.emit('request', request, response);
  });
};

/** Requests whose `Expect` asked for something other than `100-continue` (Node's `checkExpectation`). */
const expectationUnmet = new WeakSet<IncomingMessage>();


/**
 * A request whose `Expect` is not `100-continue` goes through the service like any other, to be refused there as a
 * problem (refuseUnmetExpectations) with the request id, the baseline headers, the rate limit's count and the metrics. Node's own
 * answer, without a listener, was a bare 417 none of them saw (review 199). Its body, if any, was never invited, as
 * one `100 Continue` was withheld for: its connection closes with the answer (bodyLeftUnread).
 */
export const passUnmetExpectationsOn = (server: Server): void => {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    expectationUnmet.add(request);
    continueWithheld.add(request);
    server.emit('request', request, response);
  });
};

/**
 * A request whose `Expect` is not `100-continue` (passUnmetExpectationsOn) is counted against its caller's rate limit,
 * as any request is (the limit's own hook, a route's, never runs for a request refused on an app's onRequest hook), and
 * refused `417 expectation_failed` (RFC 9110 10.1.1), its connection closed: what it expected is not known, nor
 * whether a body follows.
 */
export const refuseUnmetExpectations = (app: App): void => {
  const limit = app.rateLimit();
  app.addHook('onRequest', async (request, reply) => {
    if (!expectationUnmet.has(request.raw)) return;
    await limit.call(app, request, reply);
    throw new HttpProblem(417, 'expectation_failed', 'the service meets no expectation but `100-continue`: send the request without its Expect header', {}, { connection: 'close' });
  });
};
